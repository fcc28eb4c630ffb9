"""Fixtures shared by several test modules."""
import pytest

from workbench.demo import train_digits_versions
from workbench.serving import deploy


@pytest.fixture(scope="module")
def digits_service(tmp_path_factory):
    """A temporary home with the demo's two digits versions (production: v1, then v2) served by a
    real uvicorn on 127.0.0.1 that keeps every request's inputs; one per test module (some modules
    change its aliases), always stopped. Yields ``(home, endpoint)``."""
    home = tmp_path_factory.mktemp("digits-home")
    train_digits_versions(home, progress=False)
    endpoint = deploy("digits", home=home, log_inputs=1.0)
    try:
        yield home, endpoint
    finally:
        endpoint.stop()

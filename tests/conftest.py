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


# -- the store backends ----------------------------------------------------------------------
# A test module that runs against both backends says
#     pytestmark = pytest.mark.usefixtures("store_backend")
# and each of its tests runs twice: on SQLite files in the home, and on a PostgreSQL database of
# its own (WORKBENCH_STORE points at it, so every Registry, KeyStore, PredictionLog, Monitor and
# server process of the test uses it). Tests of SQLite internals carry @pytest.mark.sqlite_only.

def pytest_generate_tests(metafunc):
    if "store_backend" in metafunc.fixturenames:
        only_sqlite = metafunc.definition.get_closest_marker("sqlite_only") is not None
        params = ["sqlite"] if only_sqlite else [
            "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
        metafunc.parametrize("store_backend", params, indirect=True)


@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway PostgreSQL cluster for the session (see tests/postgres_server.py). Missing
    binaries fail the test under CI=true (make test installs them) and skip it elsewhere."""
    import os

    from postgres_server import MISSING, PostgresServer, find_bindir, when_missing

    bindir = find_bindir()
    if bindir is None:
        if when_missing(os.environ) == "fail":
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    server = PostgresServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server):
    """The URL of a new, empty PostgreSQL database for this test (dropped afterwards)."""
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url)


@pytest.fixture
def store_backend(request, monkeypatch):
    """``"sqlite"`` or ``"postgresql"``; for the latter ``$WORKBENCH_STORE`` names a database of
    this test's own."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        monkeypatch.setenv("WORKBENCH_STORE", url)
    else:
        monkeypatch.delenv("WORKBENCH_STORE", raising=False)
    return request.param


@pytest.fixture
def other_store(request, store_backend):
    """A second, independent store for a test that moves things between two homes: None on
    SQLite (each home has its own files), a second empty database on PostgreSQL."""
    if store_backend != "postgresql":
        return None
    server = request.getfixturevalue("postgres_server")
    url = server.create_database()
    request.addfinalizer(lambda: server.drop_database(url))
    return url

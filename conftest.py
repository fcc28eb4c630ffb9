"""Test-wide settings: a temporary workbench home and a non-interactive matplotlib backend.

This file sits at the top of the checkout so that it applies to ``tests/`` and to the notebooks
that nbval runs alike. Nothing a test does may touch the checkout's ``artifacts/``.
"""
import os
import tempfile

os.environ.setdefault("MPLBACKEND", "Agg")
# A home for anything that falls back on the default; individual tests use their own tmp_path.
_HOME = tempfile.mkdtemp(prefix="workbench-test-home-")
os.environ["WORKBENCH_HOME"] = _HOME
# the store of a test is chosen by the test (tests/conftest.py: store_backend), never inherited
os.environ.pop("WORKBENCH_STORE", None)


def pytest_unconfigure(config):
    import shutil

    shutil.rmtree(_HOME, ignore_errors=True)

"""Names are matched in full (no `production\\n` twin, no `.`/`..`), and what the workbench creates
in a home is private to its owner: the home 0700, registry.db / predictions.db and their
-wal/-shm files 0600."""
import os
import stat

import pytest
from registry_fakes import FakeModel

from workbench.home import create_private_file, make_private_dir, resolve_home
from workbench.monitoring import PredictionLog, wait_until_written
from workbench.registry import InvalidNameError, Registry
from workbench.registry.errors import check_name, check_tags

BAD_NAMES = ["production\n", "digits\n", "\ndigits", ".", "..", ".hidden", "a/b", "A", "", "a" * 65,
             "digits\x00", "dig its", "prod\r", "é", None, 3]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_refused_with_a_clear_message(name):
    with pytest.raises(InvalidNameError, match="must be 1-64 characters") as info:
        check_name(name)
    assert "not starting with '.'" in str(info.value)


@pytest.mark.parametrize("name", ["digits", "digits-mlp", "v1.2", "a", "a" * 64, "_x", "0"])
def test_good_names_pass(name):
    assert check_name(name) == name


def test_registry_refuses_trailing_newline_aliases_and_dot_models(tmp_path):
    reg = Registry(tmp_path)
    reg.register("digits", FakeModel(0))
    reg.set_alias("digits", "production", 1)
    with pytest.raises(InvalidNameError):
        reg.set_alias("digits", "production\n", 1)
    for name in (".", "..", ".digits", "digits\n"):
        with pytest.raises(InvalidNameError):
            reg.register(name, FakeModel(0))
    assert reg.models() == ["digits"] and reg.aliases("digits") == {"production": 1}


@pytest.mark.parametrize("key", ["team\n", ".x", "", "a b", "x" * 65, "k\x00"])
def test_bad_tag_names_are_refused(tmp_path, key):
    with pytest.raises(InvalidNameError, match="tag names"):
        check_tags({key: "v"})
    with pytest.raises(InvalidNameError):
        Registry(tmp_path).register("m", FakeModel(0), tags={key: "v"})


def test_good_tags_pass():
    assert check_tags({"team": "x", "data/source": "digits", "run:id": 3}) == {
        "team": "x", "data/source": "digits", "run:id": 3}


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_home_and_databases_are_private(tmp_path):
    old = os.umask(0o022)  # the usual umask, which alone would give 0755 / 0644
    try:
        home = tmp_path / "new" / "home"
        reg = Registry(home)
        reg.register("digits", FakeModel(0))
        log = PredictionLog(home / "predictions.db")
        log.record(model="digits", version=1, status=200, latency_ms=1.0, rows=1, outputs=[0])
        wait_until_written(home)
        assert mode(home) == 0o700
        for name in ("registry.db", "predictions.db"):
            assert mode(home / name) == 0o600, name
            for suffix in ("-wal", "-shm"):
                extra = home / f"{name}{suffix}"
                assert extra.exists(), extra
                assert mode(extra) == 0o600, extra
        log.close()
        reg.close()
    finally:
        os.umask(old)


def test_existing_home_and_files_keep_their_mode(tmp_path):
    home = tmp_path / "shared"
    home.mkdir(mode=0o750)
    os.chmod(home, 0o750)
    (home / "registry.db").touch()
    os.chmod(home / "registry.db", 0o640)
    Registry(home).close()
    assert mode(home) == 0o750 and mode(home / "registry.db") == 0o640
    assert resolve_home(home) == home.resolve()


def test_helpers(tmp_path):
    assert mode(make_private_dir(tmp_path / "a" / "b")) == 0o700
    f = create_private_file(tmp_path / "a" / "f.db")
    assert mode(f) == 0o600 and f.read_bytes() == b""
    f.write_bytes(b"kept")
    assert create_private_file(f).read_bytes() == b"kept"

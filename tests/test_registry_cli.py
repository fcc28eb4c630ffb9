"""``workbench registry ...`` sub-commands, driven through the parser as ``workbench`` does."""
import argparse
import json
import subprocess
import sys

import pytest
from registry_fakes import FakeModel

from workbench.registry import Registry
from workbench.registry import cli as registry_cli

#: every test here runs on SQLite and on PostgreSQL (tests/conftest.py: store_backend)
pytestmark = pytest.mark.usefixtures("store_backend")


def run(argv, capsys):
    """Parse and run like ``workbench.cli.main``; return (exit code, stdout, stderr)."""
    parser = argparse.ArgumentParser(prog="workbench")
    registry_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["registry", *argv])
    try:
        code = int(args.func(args) or 0)
    except (ValueError, LookupError, OSError) as exc:
        print(f"workbench registry: error: {exc}", file=sys.stderr)
        code = 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def home(tmp_path):
    reg = Registry(tmp_path / "home", author="carol")
    reg.register("m", FakeModel(0), metrics={"acc": 0.8})
    reg.register("m", FakeModel(1), metrics={"acc": 0.9})
    reg.set_alias("m", "production", 1)
    return str(tmp_path / "home")


def test_list_models_and_versions(home, capsys):
    code, out, _ = run(["list", "--home", home], capsys)
    assert code == 0 and "m" in out and "2 versions" in out and "production=v1" in out
    code, out, _ = run(["list", "m", "--home", home], capsys)
    assert code == 0 and "acc=0.9" in out and "carol" in out
    code, out, _ = run(["list", "m", "--json", "--home", home], capsys)
    assert [v["version"] for v in json.loads(out)] == [1, 2]


def test_home_before_the_action_also_works(home, capsys):
    code, out, _ = run(["--home", home, "list"], capsys)
    assert code == 0 and "2 versions" in out


def test_show(home, capsys):
    code, out, _ = run(["show", "m", "--alias", "production", "--home", home], capsys)
    assert code == 0 and "m v1" in out and "production" in out and "acc=0.8" in out
    code, out, _ = run(["show", "m", "--json", "--home", home], capsys)
    assert json.loads(out)["version"] == 2


def test_promote_rollback_history(home, capsys):
    assert run(["promote", "m", "2", "--home", home], capsys)[:2] == (0, "m: production -> v2\n")
    code, out, _ = run(["rollback", "m", "--home", home], capsys)
    assert code == 0 and "v1" in out
    code, out, _ = run(["history", "m", "--home", home], capsys)
    assert code == 0 and out.count("\n") == 5 and "rolled back" in out
    assert Registry(home).aliases("m") == {"production": 1}


def test_verify_exit_codes(home, capsys):
    code, out, _ = run(["verify", "--home", home], capsys)
    assert code == 0 and "sound" in out
    reg = Registry(home)
    blob = reg.home / "blobs" / reg.get_version("m", 2).sha256
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    blob.write_bytes(bytes(data))
    code, out, err = run(["verify", "--home", home], capsys)
    assert code == 1 and "PROBLEM" in out and "m v2" in out and "problem(s) found" in err


def test_export_import(home, tmp_path, capsys):
    # import rebuilds the model from its weights, so this needs a real workbench model
    import numpy as np

    from workbench.models import LinearRegression

    with Registry(home) as reg:
        reg.register("real", LinearRegression().fit(np.eye(3), [1.0, 2.0, 3.0]), metrics={"acc": 0.8})
    path = str(tmp_path / "m.zip")
    code, out, _ = run(["export", "real", path, "--version", "1", "--home", home], capsys)
    assert code == 0 and "real v1" in out
    other = str(tmp_path / "other")
    code, out, _ = run(["import", path, "--name", "copied", "--home", other], capsys)
    assert code == 0 and "copied v1" in out
    assert Registry(other).get_version("copied").metrics == {"acc": 0.8}


@pytest.mark.parametrize("argv, words", [
    (["show", "nope"], ["no model named 'nope'"]),
    (["promote", "m", "7"], ["no version 7"]),
    (["rollback", "m", "--alias", "staging"], ["no alias 'staging'"]),
    (["promote", "BAD", "1"], ["lower-case"]),
    (["import", "/nonexistent/file.zip"], ["no archive file"]),
])
def test_errors_are_one_clear_line(home, capsys, argv, words):
    code, out, err = run([*argv, "--home", home], capsys)
    assert code == 1 and out == ""
    assert err.startswith("workbench registry: error:") and "Traceback" not in err
    for word in words:
        assert word in err


def test_registered_in_the_workbench_command():
    from workbench import cli
    assert "workbench.registry.cli" in cli.SUBCOMMAND_MODULES


def test_real_command_line(home):
    """The installed entry point, in a separate process."""
    pytest.importorskip("workbench.demo", reason="workbench.cli also needs workbench.demo")
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "registry", "verify",
                           "--home", home], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "sound" in proc.stdout, proc.stderr


@pytest.mark.parametrize("text, expected", [
    ("3", (3, None)), ("003", (3, None)), (" 3 ", (3, None)), (4, (4, None)),
    ("production", (None, "production")), ("v3", (None, "v3")), ("-1", (None, "-1")),
    ("\u00b3", (None, "\u00b3")),             # a superscript digit is no version number
    (None, (None, None)),
])
def test_a_reference_is_a_version_when_it_is_digits_and_an_alias_otherwise(text, expected):
    from workbench.registry.refs import parse_ref

    assert parse_ref(text) == expected


@pytest.mark.parametrize("ref, error, words", [
    ("9", "VersionNotFoundError", ["model 'm' has no version 9; it has versions 1, 2; "
                                   "aliases: production -> v1"]),
    ("prod", "AliasNotFoundError", ["no version or alias 'prod'; it has versions 1, 2"]),
    ("\u00b3", "AliasNotFoundError", ["no version or alias '\u00b3'", "production -> v1"]),
    ("0", "InvalidInputError", ["positive integer"]),
    ("", "InvalidInputError", ["a number (e.g. 3) or an alias"]),
])
def test_find_version_names_the_model_and_what_it_has(home, ref, error, words):
    from workbench.registry.refs import find_version

    with pytest.raises(LookupError if "NotFound" in error else ValueError) as info:
        find_version(Registry(home), "m", ref=ref)
    assert type(info.value).__name__ == error
    for word in words:
        assert word in str(info.value)
    assert find_version(Registry(home), "m", ref="production").version == 1
    assert find_version(Registry(home), "m").version == 2

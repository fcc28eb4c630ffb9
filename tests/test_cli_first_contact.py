"""The ``workbench`` command as a new user meets it, run the way users run it (a separate process
of the installed entry point): one way to name a version everywhere (``MODEL [VERSION|ALIAS]``,
the older ``--version``/``--alias``/``--model``/``--to`` options still accepted), the usage of
the sub-command that was mistyped, a clear error listing what exists when a version or alias
does not, duplicate imports refused, and a warning when serving an empty home.

The other first-contact messages are tested where their code lives: a busy port
(test_serving_preflight.py::test_the_command_stops_at_once_on_a_busy_port) and the hint when
nothing answers ``simulate`` (test_monitoring_live.py::test_simulate_command_hints_when_nothing_answers,
and below with a version).
"""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from workbench.models import LinearRegression
from workbench.registry import Registry
from workbench.serving.endpoint import free_port

_ENTRY = Path(sys.executable).with_name("workbench")
WORKBENCH = [str(_ENTRY)] if _ENTRY.exists() else [sys.executable, "-m", "workbench.cli"]
TOP_USAGE = "usage: workbench [-h] [--version] COMMAND"

#: each test starts the command as a separate process (a second or more each)
pytestmark = pytest.mark.slow


def workbench(*argv, home=None, timeout=120):
    """Run ``workbench ARGV... [--home HOME]``; return the finished process (text output)."""
    args = [*WORKBENCH, *map(str, argv)] + (["--home", str(home)] if home else [])
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def home(tmp_path):
    """``m`` v1, v2, v3 (four features, so `simulate` draws iris rows); production moved 1 -> 2
    (so it can roll back), staging -> 3. Real models: export/import rebuild them."""
    X = np.random.default_rng(0).normal(size=(20, 4))
    with Registry(tmp_path / "home") as reg:
        for k in range(3):
            reg.register("m", LinearRegression().fit(X, X @ np.arange(4.0) + k))
        reg.set_alias("m", "production", 1)
        reg.set_alias("m", "production", 2)
        reg.set_alias("m", "staging", 3)
    return tmp_path / "home"


# (commands run first, the command, what its output says): every action that names a version,
# in the positional form and, where one existed, the older option form
FORMS = [
    ([], ["registry", "show", "m", "1"], r"^m v1\n"),
    ([], ["registry", "show", "m", "production"], r"^m v2  \[production\]"),
    ([], ["registry", "show", "m", "staging"], r"^m v3  \[staging\]"),
    ([], ["registry", "show", "m"], r"^m v3 "),
    ([], ["registry", "show", "m", "--version", "1"], r"^m v1\n"),
    ([], ["registry", "show", "m", "--alias", "production"], r"^m v2 "),
    ([], ["registry", "show", "m", "--json", "1"], r'"version": 1,'),    # options in between
    ([], ["registry", "show", "--json", "m", "staging"], r'"version": 3,'),
    ([], ["registry", "export", "m", "1", "{tmp}/a.zip"], r"exported m v1 to "),
    ([], ["registry", "export", "m", "production", "{tmp}/a.zip"], r"exported m v2 to "),
    ([], ["registry", "export", "m", "{tmp}/a.zip"], r"exported m v3 to "),
    ([], ["registry", "export", "m", "{tmp}/a.zip", "--version", "1"], r"exported m v1 to "),
    ([], ["registry", "export", "m", "{tmp}/a.zip", "--alias", "staging"], r"exported m v3 to "),
    ([], ["registry", "compare", "m", "1", "production"], r"^m: v1 -> v2\n"),
    ([], ["registry", "compare", "m", "staging", "2"], r"^m: v3 -> v2\n"),
    ([], ["registry", "promote", "m", "3"], r"^m: production -> v3\n$"),
    ([], ["registry", "promote", "m", "staging"], r"^m: production -> v3\n$"),
    ([], ["registry", "promote", "m", "1", "--alias", "staging"], r"^m: staging -> v1\n$"),
    ([["registry", "canary", "m", "2=0.9", "3=0.1"]], ["registry", "promote", "m"],
     r"^m: production promoted to v3 \(split ended\)"),
    ([], ["registry", "shadow", "m", "1"], r"^m: production shadow -> v1\n$"),
    ([], ["registry", "shadow", "m", "staging"], r"^m: production shadow -> v3\n$"),
    ([["registry", "shadow", "m", "1"]], ["registry", "shadow", "m", "off"], r"shadow off"),
    ([], ["registry", "rollback", "m"], r"^m: production rolled back to v1\n$"),
    ([], ["registry", "rollback", "m", "production"], r"^m: production rolled back to v1\n$"),
    ([], ["registry", "rollback", "m", "--alias", "production"], r"rolled back to v1\n$"),
    ([["registry", "promote", "m", "1", "--alias", "staging"]],
     ["registry", "rollback", "m", "staging"], r"^m: staging rolled back to v3\n$"),
    ([["registry", "canary", "m", "2=0.9", "3=0.1"]], ["registry", "abort", "m"],
     r"^m: production canary aborted, back to v2"),
    ([["registry", "canary", "m", "2=0.9", "3=0.1"]], ["registry", "abort", "m", "production"],
     r"canary aborted, back to v2"),
    ([], ["registry", "archive", "m", "1"], r"^m v1 archived"),
    ([], ["replay", "m", "1"], r"of m through v1 "),
    ([], ["replay", "m", "staging"], r"of m through v3 "),
    ([], ["replay", "--model", "m", "--version", "2"], r"of m through v2 "),
    ([], ["rollout", "start", "m", "3"], r"^m production: v2 → v3 "),
    ([], ["rollout", "start", "m", "staging"], r"^m production: v2 → v3 "),
    ([], ["rollout", "start", "m", "--to", "3"], r"^m production: v2 → v3 "),
]


@pytest.mark.parametrize("before, argv, said", FORMS, ids=[" ".join(f[1]) for f in FORMS])
def test_every_action_names_a_version_the_same_way(home, tmp_path, before, argv, said):
    for step in before:
        assert workbench(*step, home=home).returncode == 0
    result = workbench(*(a.replace("{tmp}", str(tmp_path)) for a in argv), home=home)
    assert result.returncode == 0, result.stderr
    assert re.search(said, result.stdout), result.stdout


@pytest.mark.parametrize("argv", [
    ["simulate", "m", "production"], ["simulate", "m", "--rps", "5", "1"],
    ["simulate", "--model", "m"]])
def test_simulate_names_a_version_the_same_way_and_hints_when_nothing_answers(home, argv):
    url = f"http://127.0.0.1:{free_port()}"
    result = workbench(*argv, "--url", url, "--rps", "5", "--duration", "0.5", home=home)
    target = {"production": " production", "1": " 1"}.get(argv[-1], "")
    assert f"TrafficSimulator('m'{target} at {url}" in result.stdout
    assert result.returncode == 1
    assert f"nothing answered at {url}: is the service running there?" in result.stderr


LISTED = "it has versions 1, 2, 3; aliases: production -> v2, staging -> v3"
NOT_FOUND = [
    (["registry", "show", "m", "9"], f"model 'm' has no version 9; {LISTED}"),
    (["registry", "show", "m", "prod"], f"model 'm' has no version or alias 'prod'; {LISTED}"),
    (["registry", "show", "m", "v2"], "no version or alias 'v2' (for version 2, write just 2)"),
    (["registry", "show", "m", "--alias", "prod"], f"no version or alias 'prod'; {LISTED}"),
    (["registry", "show", "m", "--version", "9"], f"model 'm' has no version 9; {LISTED}"),
    (["registry", "show", "m", "99999999999999999999"], "version must be a positive integer below 2**63"),
    (["registry", "export", "m", "prod", "x.zip"], f"no version or alias 'prod'; {LISTED}"),
    (["registry", "compare", "m", "1", "nope"], f"no version or alias 'nope'; {LISTED}"),
    (["registry", "promote", "m", "9"], f"model 'm' has no version 9; {LISTED}"),
    (["registry", "promote", "m", "canary"], f"no version or alias 'canary'; {LISTED}"),
    (["registry", "shadow", "m", "nope"], f"no version or alias 'nope'; {LISTED}"),
    (["registry", "archive", "m", "9"], f"model 'm' has no version 9; {LISTED}"),
    (["replay", "m", "9"], f"model 'm' has no version 9; {LISTED}"),
    (["rollout", "start", "m", "prod"], f"no version or alias 'prod'; {LISTED}"),
    (["simulate", "m", "prod"], f"no version or alias 'prod'; {LISTED}"),
    (["registry", "show", "nope", "1"], "no model named 'nope'"),
    (["registry", "rollback", "m", "staging"], "alias 'staging' of 'm' has no earlier target"),
]


@pytest.mark.parametrize("argv, says", NOT_FOUND, ids=[" ".join(a) for a, _ in NOT_FOUND])
def test_a_version_or_alias_that_does_not_exist_is_named_with_what_does(home, argv, says):
    result = workbench(*argv, home=home)
    assert result.returncode == 1 and result.stdout == ""
    assert says in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"workbench {argv[0]}: error:")
    assert Registry(home).aliases("m") == {"production": 2, "staging": 3}   # nothing changed


USAGE = [
    (["registry", "show", "m", "1", "2"], "registry show", "unrecognized arguments: 2"),
    (["registry", "show"], "registry show", "required: MODEL"),
    (["registry", "show", "m", "1", "--version", "2"], "registry show",
     "give the version once: as '1' or as --version 2"),
    (["registry", "show", "m", "--version", "x"], "registry show", "invalid int value: 'x'"),
    (["registry", "export", "m"], "registry export", "required: path"),
    (["registry", "promote"], "registry promote", "required: MODEL"),
    (["registry", "promote", "m", "1", "2"], "registry promote", "unrecognized arguments: 2"),
    (["registry", "rollback", "m", "2"], "registry rollback",
     "rollback moves an alias, so name one (e.g. production), not version 2"),
    (["registry", "shadow", "m"], "registry shadow", "required: VERSION|ALIAS"),
    (["registry", "archive", "m"], "registry archive", "required: VERSION|ALIAS"),
    (["registry", "compare", "m", "1"], "registry compare", "required: VERSION|ALIAS"),
    (["registry", "frobnicate"], "registry", "invalid choice: 'frobnicate'"),
    (["registry", "--bogus", "list"], "registry", "unrecognized arguments: --bogus"),
    (["registry"], "registry", "required: ACTION"),
    (["replay", "m"], "replay", "required: VERSION|ALIAS"),
    (["replay"], "replay", "required: MODEL"),
    (["rollout", "start", "m"], "rollout start", "required: VERSION|ALIAS"),
    (["rollout", "status", "m", "extra"], "rollout status", "unrecognized arguments: extra"),
    (["simulate"], "simulate", "required: MODEL"),
    (["simulate", "m", "1", "2"], "simulate", "unrecognized arguments: 2"),
    (["keys", "revoke", "a", "b"], "keys revoke", "unrecognized arguments: b"),
    (["serve", "--bogus"], "serve", "unrecognized arguments: --bogus"),
    (["notebooks"], "notebooks", "required: dir"),
]


@pytest.mark.parametrize("argv, command, says", USAGE, ids=[" ".join(u[0]) for u in USAGE])
def test_a_mistake_shows_the_usage_of_the_sub_command_that_was_mistyped(home, argv, command,
                                                                       says):
    result = workbench(*argv, home=None if argv[0] == "notebooks" else home)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"usage: workbench {command} ")
    assert f"\nworkbench {command}: error: " in result.stderr and says in result.stderr
    assert TOP_USAGE not in result.stderr and "Traceback" not in result.stderr


def test_the_positional_form_is_documented_in_each_help(home):
    for argv in (["registry", "show"], ["registry", "export"], ["registry", "promote"],
                 ["registry", "archive"], ["replay"], ["rollout", "start"], ["simulate"]):
        result = workbench(*argv, "--help")
        assert result.returncode == 0 and "MODEL" in result.stdout
        assert "VERSION|ALIAS" in result.stdout, argv


@pytest.mark.usefixtures("store_backend")
def test_importing_the_same_archive_twice_is_refused_unless_asked_for(home, tmp_path):
    archive = tmp_path / "m-v2.zip"
    assert workbench("registry", "export", "m", "production", archive, home=home).returncode == 0
    sha = Registry(home).get_version("m", 2).sha256
    result = workbench("registry", "import", archive, home=home)
    assert result.returncode == 1 and result.stdout == ""
    assert (f"m v2 already holds this archive (sha256 {sha}); nothing imported"
            in result.stderr) and "--allow-duplicate" in result.stderr
    assert [v.version for v in Registry(home).versions("m")] == [1, 2, 3]
    # under another name it is no duplicate (on PostgreSQL every home here shares one database)
    result = workbench("registry", "import", archive, "--name", "m-copy", home=home)
    assert result.returncode == 0 and "as m-copy v1" in result.stdout
    result = workbench("registry", "import", archive, "--name", "m-copy", home=home)
    assert result.returncode == 1 and "m-copy v1 already holds this archive" in result.stderr
    result = workbench("registry", "import", archive, "--allow-duplicate", home=home)
    assert result.returncode == 0 and f"imported {archive} as m v4" in result.stdout
    assert Registry(home).get_version("m", 4).sha256 == sha


def test_serving_an_empty_home_warns_before_it_starts(tmp_path):
    """`workbench serve` on a home with no models and no keys says both, then serves anyway
    (models and keys may be added while it runs)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    port = free_port()
    proc = subprocess.Popen([*WORKBENCH, "serve", "--home", str(empty), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        seen, deadline = "", time.monotonic() + 120
        while time.monotonic() < deadline and "workbench keys create" not in seen:
            line = proc.stderr.readline()
            if not line:
                break
            seen += line
            if "Uvicorn running on" in line or "startup complete" in line:
                break                           # started: the warnings came before, or never
        assert "has no models yet, so every inference request gets 404" in seen, seen
        assert "there is no API key yet, so every request gets 401" in seen, seen
        assert "workbench keys create --role predictor" in seen and "Traceback" not in seen
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()


@pytest.mark.parametrize("group, action", [("registry", ["show", "m", "2"]),
                                           ("rollout", ["start", "m", "3"])])
def test_home_may_come_before_the_action(home, group, action):
    result = workbench(group, "--home", str(home), *action)
    assert result.returncode == 0, result.stderr
    assert "m" in result.stdout
    if group == "rollout":
        assert "production: v2 → v3" in result.stdout

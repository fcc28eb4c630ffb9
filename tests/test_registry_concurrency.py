"""Several processes at once, and processes killed in the middle of ``register``."""
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from registry_fakes import FakeModel, expected_coef

from workbench.registry import Registry

#: every test here runs on SQLite and on PostgreSQL (tests/conftest.py: store_backend)
pytestmark = pytest.mark.usefixtures("store_backend")


WORKER = str(Path(__file__).resolve().parent / "registry_worker.py")


def start_worker(home, *args):
    return subprocess.Popen([sys.executable, WORKER, str(home), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)


def test_four_processes_register_25_versions_each(tmp_path):
    home = tmp_path / "home"
    procs = [start_worker(home, "register", "shared", 25, 1000 * (k + 1)) for k in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert out.split() == ["ready", "done"]
    reg = Registry(home)
    versions = reg.versions("shared")
    assert [v.version for v in versions] == list(range(1, 101))        # distinct, no gaps
    seeds = sorted(int(v.metrics["seed"]) for v in versions)
    assert seeds == sorted(1000 * (k + 1) + i for k in range(4) for i in range(25))  # none lost
    for v in versions:                      # each number holds the weights registered under it
        np.testing.assert_array_equal(reg.load_spec("shared", v.version)[1]["coef"],
                                      expected_coef(int(v.metrics["seed"])))
        assert v.author == f"worker{int(v.metrics['seed']) // 1000 * 1000}"
    events = reg.history("shared")
    assert sum(e.action == "registered" for e in events) == 100
    aliased = [e for e in events if e.action == "aliased"]
    assert 1 <= len(aliased) <= 100
    # every alias event saw the target of the one before it: no lost update
    assert all(b.previous == a.version for a, b in zip(aliased, aliased[1:]))
    assert reg.aliases("shared") == {"production": aliased[-1].version}
    assert reg.verify() == []


def test_sigkill_during_register_leaves_a_sound_registry(tmp_path):
    home = tmp_path / "home"
    Registry(home).register("crash", FakeModel(0, size=20_000))    # 640 kB per blob
    rng = np.random.default_rng(7)
    kills = 0
    for round_ in range(15):
        proc = start_worker(home, "register", "crash", 50, 100 * (round_ + 1), 20_000)
        assert proc.stdout.readline().strip() == "ready"
        try:
            proc.wait(timeout=float(rng.uniform(0.0, 0.15)))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=60)
        proc.stdout.close()
        proc.stderr.close()
    assert kills >= 10
    reg = Registry(home)
    assert reg.verify() == []
    versions = reg.versions("crash")
    assert [v.version for v in versions] == list(range(1, len(versions) + 1))
    for v in versions:                      # every visible version loads, with its own weights
        spec, arrays = reg.load_spec("crash", v.version)
        np.testing.assert_array_equal(arrays["coef"], expected_coef(spec["seed"], size=20_000))
        if v.version > 1:
            assert reg.reference("crash", v.version)["sample"].shape == (1000, 4)
    target = reg.aliases("crash").get("production")
    if target is not None:
        reg.get_version("crash", target)
    # and the registry keeps working after the crashes
    assert reg.register("crash", FakeModel(1)).version == versions[-1].version + 1
    assert reg.verify() == []


def test_death_at_each_step_of_register_hides_the_version(tmp_path):
    """Die (no cleanup) after the temp file is written, and after the blob is in place."""
    home = tmp_path / "home"
    Registry(home).register("m", FakeModel(0))
    for action in ("die-before-rename", "die-after-blob"):
        proc = start_worker(home, action, "m", 1, 500)
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 9 and "done" not in out
    leftovers = sorted(p.name for p in (home / "blobs").iterdir())
    assert any(name.startswith(".tmp-") for name in leftovers)      # the crash left debris ...
    reg = Registry(home)
    assert reg.verify() == []                                      # ... which is harmless
    assert [v.version for v in reg.versions("m")] == [1]            # nothing half-written shows
    assert reg.register("m", FakeModel(1)).version == 2

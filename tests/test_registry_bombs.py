"""Bomb archives: each is refused with IntegrityError before anything large is allocated.

The archives are built by tests/registry_bombs.py. Memory is measured in a separate process
(``ru_maxrss`` growth over a warmed-up baseline), and the real ``workbench registry import``
command is run on each: exit code 1, one line on stderr, no traceback.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import registry_bombs

from workbench.registry import IntegrityError, Registry

HERE = Path(__file__).parent
MAX_GROWTH_KIB = 200 * 1024

#: bomb -> words its error must contain
EXPECTED = {
    "mask_bomb": ["mask"],
    "dense_codes_bomb": ["codes"],
    "npz_header_bomb": ["declares shape", "refusing"],
    "npz_header_bomb_deflated": ["declares shape"],
    "spec_header_bomb": ["__spec__"],
    "object_array": ["dtype object"],
    "oversize_member": ["blobs/", "too large"],
    "deep_manifest": ["manifest.json"],
    "negative_layers": ["positive"],
    "not_a_zip": ["not a readable archive"],
}


def test_every_bomb_has_an_expectation():
    assert set(EXPECTED) == set(registry_bombs.BOMBS)


@pytest.mark.parametrize("bomb", sorted(registry_bombs.BOMBS))
def test_bomb_is_refused_with_the_integrity_error(tmp_path, bomb):
    path = registry_bombs.BOMBS[bomb](tmp_path / f"{bomb}.zip")
    assert path.stat().st_size < 250_000  # small files; the deep manifest is the largest
    reg = Registry(tmp_path / "home")
    with pytest.raises(IntegrityError) as info:
        reg.import_(path)
    for word in EXPECTED[bomb]:
        assert word in str(info.value), str(info.value)
    assert reg.models() == []


@pytest.mark.slow
def test_peak_memory_growth_stays_small(tmp_path):
    proc = subprocess.run([sys.executable, str(HERE / "registry_bombs.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False,
                          env={**os.environ, "PYTHONPATH": str(HERE.parent)})
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert {r["bomb"] for r in rows} == set(registry_bombs.BOMBS)
    for row in rows:
        assert row["error"], row
        assert row["growth_kib"] < MAX_GROWTH_KIB, row


@pytest.mark.slow
@pytest.mark.parametrize("bomb", sorted(registry_bombs.BOMBS))
def test_cli_prints_one_line_and_exits_1(tmp_path, bomb):
    path = registry_bombs.BOMBS[bomb](tmp_path / f"{bomb}.zip")
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "registry", "import", str(path),
                           "--home", str(tmp_path / "home")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("workbench registry: error:"), proc.stderr

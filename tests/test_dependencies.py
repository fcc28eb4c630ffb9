"""Dependencies: floors past known CVEs, and a constraints file that `make setup` installs with."""
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints.txt"

#: package -> first version without the known problem (see the comments in pyproject.toml)
CVE_FLOORS = {
    "orjson": "3.9.15",        # CVE-2024-27454: crash on deeply nested JSON
    "tqdm": "4.66.3",          # CVE-2024-34062: eval of CLI arguments
    "uvicorn": "0.48.0",       # default ssl_ciphers "TLSv1" (every TLS 1.0 cipher) dropped
    "starlette": "1.3.1",      # CVE-2025-62727, CVE-2026-48710, CVE-2026-54282, CVE-2026-54283
    "jupyterlab": "4.6.2",     # GHSA-pppj-hq3g-57pj, GHSA-gx64-gj6p-pc4c
    "cryptography": "44.0.1",  # CVE-2024-26130, CVE-2024-12797
}


def direct_requirements() -> list[Requirement]:
    """Runtime dependencies and the ``test`` extra (with the project's own extras it names)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras, found, todo = project["optional-dependencies"], [], ["test"]
    found = [Requirement(r) for r in project["dependencies"]]
    while todo:
        for req in map(Requirement, extras[todo.pop()]):
            if canonicalize_name(req.name) == canonicalize_name(project["name"]):
                todo += sorted(req.extras)
            else:
                found.append(req)
    return found


def pins() -> dict[str, Version]:
    out = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+!\-]+)", line)
        assert match, f"constraints.txt lines must be NAME==VERSION, got {line!r}"
        out[canonicalize_name(match[1])] = Version(match[2])
    return out


def floor(req: Requirement) -> Version | None:
    lows = [Version(s.version) for s in req.specifier if s.operator in (">=", "==", "~=")]
    return max(lows) if lows else None


@pytest.mark.parametrize("package, first_fixed", sorted(CVE_FLOORS.items()))
def test_floors_are_past_known_cves(package, first_fixed):
    reqs = {canonicalize_name(r.name): r for r in direct_requirements()}
    req = reqs[canonicalize_name(package)]
    assert floor(req) is not None and floor(req) >= Version(first_fixed), str(req)
    assert pins()[canonicalize_name(package)] >= Version(first_fixed)
    assert Version(metadata.version(package)) >= Version(first_fixed)  # what this venv runs


def test_constraints_pin_every_direct_dependency_within_pyproject():
    pinned = pins()
    assert "maas-workbench" not in pinned  # the project itself (editable) is not pinned
    missing = [r.name for r in direct_requirements() if canonicalize_name(r.name) not in pinned]
    assert not missing, f"not in constraints.txt: {missing}; regenerate it with `make constraints`"
    for req in direct_requirements():
        version = pinned[canonicalize_name(req.name)]
        assert req.specifier.contains(version, prereleases=True), (req, version)


def test_constraints_say_how_to_regenerate():
    head = [line for line in CONSTRAINTS.read_text().splitlines() if line.startswith("#")]
    assert any("make constraints" in line for line in head)
    assert any("pip freeze --exclude-editable" in line for line in head)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_setup_installs_with_the_constraints():
    dry = subprocess.run(["make", "-n", "-B", ".venv/.installed-stamp"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    installs = [line for line in dry.splitlines() if "pip install" in line and "-e" in line]
    assert installs, dry
    assert all("-c constraints.txt" in line and ".[test]" in line for line in installs), installs
    # and a changed constraints file makes setup run again
    rule = re.search(r"^\$\(STAMP\):(.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert rule and "$(CONSTRAINTS)" in rule[1]
    regen = subprocess.run(["make", "-n", "constraints"], cwd=ROOT, capture_output=True,
                           text=True, timeout=60, check=True).stdout
    assert "pip freeze --exclude-editable" in regen

"""The build checks the shape of the code: the layering of ARCHITECTURE.md and the lint rules.

``lint-imports`` reads the contracts in ``pyproject.toml`` ([tool.importlinter]): a layer imports
only the layers below it, monitoring never imports the web framework, only panels import
ipywidgets. ``ruff`` runs the rule set in [tool.ruff.lint]. Either failing fails CI.
"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(tool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / tool), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_no_layer_imports_one_above_it():
    result = run("lint-imports", "--no-cache")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout and "kept" in result.stdout.lower()


def test_the_contract_catches_an_upward_import(tmp_path):
    """Guard against a contract that checks nothing: a copy of the package with one upward
    import (models -> serving) must be reported broken."""
    import shutil

    copy = tmp_path / "src"
    shutil.copytree(ROOT / "workbench", copy / "workbench",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    bad = copy / "workbench" / "models" / "upward.py"
    bad.write_text("from workbench.serving import app  # a model reaching up into serving\n")
    result = subprocess.run([str(BIN / "lint-imports"), "--no-cache"], cwd=copy, capture_output=True,
                            text=True, timeout=300, env={"PYTHONPATH": str(copy), "PATH": ""})
    assert result.returncode != 0
    assert "workbench.models.upward" in result.stdout


def test_ruff_finds_nothing():
    result = run("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout[-4000:]

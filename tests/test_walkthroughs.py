"""The walkthroughs ship with the package: found from the code, copied out for a learner."""
import subprocess
import sys
from pathlib import Path

import pytest

from workbench import walkthroughs
from workbench.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_notebooks_are_the_checkouts():
    shipped = [p.name for p in walkthroughs.walkthroughs()]
    assert shipped == sorted(p.name for p in (ROOT / "notebooks").glob("[0-9]*.ipynb"))
    assert walkthroughs.notebook_path("04_monitoring.ipynb").read_bytes() == \
        (ROOT / "notebooks" / "04_monitoring.ipynb").read_bytes()
    with pytest.raises(FileNotFoundError, match="no notebook 'nope.ipynb'.*01_training.ipynb"):
        walkthroughs.notebook_path("nope.ipynb")


def test_workbench_notebooks_copies_them_and_never_overwrites_by_accident(tmp_path, capsys):
    target = tmp_path / "course"
    assert main(["notebooks", str(target)]) == 0
    copied = sorted(str(p.relative_to(target)) for p in target.rglob("*.ipynb"))
    assert "01_training.ipynb" in copied and "solutions/01_training_solutions.ipynb" in copied
    assert "jupyter lab" in capsys.readouterr().out

    mine = target / "01_training.ipynb"
    mine.write_text("my edited notebook")
    assert main(["notebooks", str(target)]) == 1
    assert "already exist" in capsys.readouterr().err and mine.read_text() == "my edited notebook"
    assert main(["notebooks", str(target), "--force"]) == 0
    assert mine.read_text() != "my edited notebook"


def test_version_answers():
    result = subprocess.run([sys.executable, "-m", "workbench.cli", "--version"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("workbench 0.")

"""The walkthroughs as a learner meets them: exercises with starter cells and worked solutions,
the clean-up after the exercises, no committed outputs, and a Voila app that shows no walkthrough.

(Running them is nbval's job: ``make notebooks`` runs every walkthrough and every solution.)
"""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
WALKTHROUGHS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((NOTEBOOKS / "solutions").glob("*.ipynb"))
EXERCISE = re.compile(r"\*\*Exercise (\d+)\.\*\*")


def cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell) -> str:
    return "".join(cell["source"])


def exercises(path) -> list:
    """``[(number, index of its markdown cell), ...]`` of a walkthrough."""
    return [(int(m.group(1)), i) for i, c in enumerate(cells(path))
            if c["cell_type"] == "markdown" and (m := EXERCISE.match(source(c)))]


def test_there_are_walkthroughs_and_solutions():
    assert len(WALKTHROUGHS) >= 8 and len(SOLUTIONS) >= 8


@pytest.mark.parametrize("path", WALKTHROUGHS, ids=lambda p: p.stem)
def test_every_exercise_has_a_starter_cell_and_a_worked_solution(path):
    notebook = cells(path)
    headings = [i for i, c in enumerate(notebook) if source(c).startswith("## Exercises")]
    found = exercises(path)
    assert len(headings) == 1 and len(found) >= 2, f"{path.name}: no Exercises section"
    assert [n for n, _ in found] == list(range(1, len(found) + 1))
    for number, i in found:
        assert i > headings[0]
        starter = notebook[i + 1]
        assert starter["cell_type"] == "code" and source(starter).startswith(f"# Exercise {number}")
    solutions = NOTEBOOKS / "solutions" / f"{path.stem}_solutions.ipynb"
    assert solutions.exists(), f"{path.name} has no {solutions.name}"
    answered = {int(m.group(1)) for c in cells(solutions)
                if (m := re.match(r"## Exercise (\d+)\b", source(c)))}
    assert answered == {n for n, _ in found}
    assert path.name in source(cells(solutions)[0])          # the solutions name their walkthrough


@pytest.mark.parametrize("path", WALKTHROUGHS, ids=lambda p: p.stem)
def test_the_clean_up_comes_after_the_exercises(path):
    notebook = cells(path)
    last_starter = exercises(path)[-1][1] + 1
    for i, cell in enumerate(notebook):
        text = source(cell)
        # stopping the service or removing the home at the top level of a cell (a cell's own
        # try/finally may stop an endpoint it started itself)
        cleans = cell["cell_type"] == "code" and re.search(r"^(\w+\.stop\(\)|shutil\.rmtree\()", text, re.M)
        assert not cleans or i > last_starter, f"{path.name}: cell {i} cleans up before the exercises"


@pytest.mark.parametrize("path", WALKTHROUGHS + SOLUTIONS, ids=lambda p: p.stem)
def test_notebooks_are_committed_without_outputs(path):
    for cell in cells(path):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


def test_the_voila_app_shows_no_walkthrough_cell_after_the_dashboard():
    notebook = cells(NOTEBOOKS / "04_monitoring.ipynb")
    dashboard = next(i for i, c in enumerate(notebook)
                     if c["cell_type"] == "code" and "MonitoringDashboard(" in source(c))
    voila = json.loads((ROOT / "voila.json").read_text())
    assert "walkthrough" in voila["TagRemovePreprocessor"]["remove_cell_tags"]
    after = notebook[dashboard + 1:]
    assert after and all("walkthrough" in c["metadata"].get("tags", []) for c in after)
    assert any(source(c).startswith("## Exercises") for c in after)

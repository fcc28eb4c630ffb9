"""The documentation site builds from the checkout, every walkthrough executed, no broken link.

``docs/site.py`` assembles the README pages, the notebooks and the API reference, runs MkDocs in
strict mode (a broken link between pages fails) and LinkChecker over the result. Here it builds
into a temporary folder and we look at what a reader would see.
"""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.docs, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run([sys.executable, str(ROOT / "docs" / "site.py"), "--out", str(out)],
                            capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out, result.stdout


def test_every_walkthrough_is_a_page_with_its_plots(site):
    site, _ = site
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for name in notebooks:
        page = (site / "walkthroughs" / f"{name}.html").read_text(encoding="utf-8")
        # Executed at build time: the plots are embedded as PNG, and no cell failed.
        assert page.count("data:image/png") >= 1, f"{name}: no plot rendered"
        assert "Traceback" not in page, f"{name}: a cell failed while the site was built"


def test_the_readme_pages_and_the_api_reference_are_there(site):
    site, _ = site
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "make demo" in home and "make test" in home
    benchmarks = (site / "benchmarks.html").read_text(encoding="utf-8")
    assert "<table" in benchmarks
    models = (site / "api" / "models.html").read_text(encoding="utf-8")
    # Generated from the docstrings, not written by hand.
    assert "MLPClassifier" in models and re.search(r"hidden_layer_sizes", models)


def test_the_built_site_links_nowhere_broken(site):
    out, log = site
    # docs/site.py fails the build on a broken link; here we check that the check did real work
    checked = re.search(r"(\d+) links in \d+ URLs checked", log)
    assert checked and int(checked.group(1)) > 50, log[-500:]

"""Build the documentation site: ``python docs/site.py [--out DIR]`` (``make docs``).

The site is assembled from what the repository already has, so nothing is written twice:

* the README, split at its ``## `` headings into pages (the benchmark tables among them);
* ``docs/*.md`` (the layer contracts) and ``../shared/ARCHITECTURE.md`` when it sits beside the checkout;
* every walkthrough in ``notebooks/``, **executed at build time** by mkdocs-jupyter, so a reader
  sees the plots and tables without running anything;
* an API reference generated from the docstrings by mkdocstrings.

Then MkDocs builds it in strict mode (a broken link between pages fails the build) and
LinkChecker walks the built HTML (every internal link, image and anchor must resolve). Notebooks
run against a throw-away workbench home, never the checkout's ``artifacts/``. The built site is
not committed: it lands in ``build/site`` (``--out`` changes that).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT.parent / "shared" / "ARCHITECTURE.md"

# The API reference: one page per layer, in the order of the flow (data → models → … → panels).
API_PAGES = {
    "data": ["workbench.data"],
    # workbench.models loads its classes lazily, so the pages name the modules that define them
    "models": ["workbench.models.linear", "workbench.models.mlp", "workbench.models.cart",
               "workbench.models.trees", "workbench.models.svm", "workbench.models.conv",
               "workbench.models.quantized", "workbench.models.onnx_model"],
    "training": ["workbench.training"],
    "store": ["workbench.store"],
    "registry": ["workbench.registry", "workbench.registry.refs"],
    "serving": ["workbench.serving.endpoint", "workbench.serving.client", "workbench.serving.keys"],
    "rollout": ["workbench.rollout"],
    "monitoring": ["workbench.monitoring.monitor", "workbench.monitoring.drift",
                   "workbench.monitoring.alerts", "workbench.monitoring.quality"],
    "load generator": ["workbench.loadgen.simulator", "workbench.loadgen.replay"],
    "optimize and explain": ["workbench.optimize", "workbench.explain"],
    "onnx": ["workbench.onnx"],
    "panels": ["workbench.panels.training_panel", "workbench.panels.registry_panel",
               "workbench.panels.deployment_panel", "workbench.panels.monitoring_panel",
               "workbench.panels.plots", "workbench.panels.diagrams", "workbench.panels.actions"],
}


def slug(title: str) -> str:
    """A file name for a heading: ``"Security defaults"`` -> ``"security-defaults"``."""
    words = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return words or "section"


# README sections that stay on the home page; every later ``## `` section becomes a page of its own.
HOME_SECTIONS = ("Quick start", "What it is")


def split_readme(text: str) -> list[tuple[str, str]]:
    """The README as ``[(title, markdown), ...]``; the first entry is the home page."""
    head, *parts = re.split(r"(?m)^## ", text)
    pages = [("Home", head)]
    for part in parts:
        title, _, body = part.partition("\n")
        title = title.strip()
        if title in HOME_SECTIONS:
            pages[0] = ("Home", pages[0][1] + f"## {title}\n{body}")
        else:
            pages.append((title, f"# {title}\n{body}"))
    return pages


def rewrite_links(markdown: str, readme_pages: dict[str, str]) -> str:
    """Point the README's repository-relative links at their place in the site."""
    def fix(match: re.Match) -> str:
        label, target = match.group(1), match.group(2)
        if re.match(r"[a-z]+://|#|mailto:", target):
            return match.group(0)
        path, _, anchor = target.partition("#")
        name = Path(path).name
        if name == "ARCHITECTURE.md":
            new = "architecture.md"
        elif path.startswith("docs/") and name.endswith(".md"):
            new = name
        elif path.startswith("notebooks/") and name.endswith(".ipynb"):
            new = f"walkthroughs/{name}"
        elif name == "README.md":
            new = readme_pages.get(anchor, "index.md")
            anchor = ""
        else:  # a source file or folder: name it, do not link into the repository
            return f"{label} (`{path}`)"
        return f"[{label}]({new}{'#' + anchor if anchor else ''})"

    return re.sub(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)", fix, markdown)


def assemble(src: Path) -> list:
    """Write the site's Markdown/notebook sources into ``src``; return the MkDocs ``nav``."""
    readme = split_readme((ROOT / "README.md").read_text(encoding="utf-8"))
    page_of = {slug(title): ("index.md" if i == 0 else f"{slug(title)}.md")
               for i, (title, _) in enumerate(readme)}
    nav: list = []
    for i, (title, body) in enumerate(readme):
        name = "index.md" if i == 0 else f"{slug(title)}.md"
        (src / name).write_text(rewrite_links(body, page_of), encoding="utf-8")
        nav.append({title: name})

    walkthroughs = src / "walkthroughs"
    walkthroughs.mkdir()
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    for nb in notebooks:
        shutil.copy2(nb, walkthroughs / nb.name)
    nav.insert(1, {"Walkthroughs": [f"walkthroughs/{nb.name}" for nb in notebooks]})

    design = []
    if ARCHITECTURE.exists():
        (src / "architecture.md").write_text(ARCHITECTURE.read_text(encoding="utf-8"), encoding="utf-8")
        design.append({"Architecture": "architecture.md"})
    for doc in sorted((ROOT / "docs").glob("*.md")):
        (src / doc.name).write_text(rewrite_links(doc.read_text(encoding="utf-8"), page_of),
                                    encoding="utf-8")
        design.append({doc.stem.title(): doc.name})
    nav.append({"Design": design})

    api = src / "api"
    api.mkdir()
    api_nav = []
    for title, modules in API_PAGES.items():
        name = f"api/{slug(title)}.md"
        body = "\n\n".join(f"::: {module}" for module in modules)
        (src / name).write_text(f"# {title.capitalize()}\n\n{body}\n", encoding="utf-8")
        api_nav.append({title.capitalize(): name})
    nav.append({"API reference": api_nav})
    return nav


def mkdocs_config(src: Path, out: Path, nav: list) -> dict:
    return {
        "site_name": "MaaS Workbench",
        "site_description": "Train, register, serve and monitor models — a Jupyter-centric workbench.",
        "docs_dir": str(src),
        "site_dir": str(out),
        "use_directory_urls": False,  # the site opens from the file system as well as over HTTP
        "strict": True,
        "validation": {"links": {"not_found": "warn", "anchors": "warn", "unrecognized_links": "warn"}},
        # No web fonts: the site must render offline, and a build must not reach the internet.
        "theme": {"name": "material", "font": False, "features": ["navigation.sections"]},
        "markdown_extensions": ["tables", "admonition", "toc", "pymdownx.superfences"],
        "plugins": [
            "search",
            {"mkdocs-jupyter": {"execute": True, "allow_errors": False, "include_source": True,
                                "ignore_h1_titles": False, "kernel_name": "python3"}},
            {"mkdocstrings": {"handlers": {"python": {
                "paths": [str(ROOT)],
                "options": {"docstring_style": "numpy", "show_source": False,
                            "members_order": "source", "show_root_heading": True,
                            "merge_init_into_class": True,
                            # some docstrings are built at import time (MLPClassifier)
                            "force_inspection": True},
            }}}},
        ],
        "nav": nav,
    }


def check_links(out: Path) -> str:
    """LinkChecker over the built site: every internal link, image and anchor must resolve.

    The site is served over HTTP on 127.0.0.1 for the check (run as root, LinkChecker drops to
    user ``nobody``, who may not read a private build folder). External links are not followed:
    the build machine has no internet. Returns LinkChecker's summary.
    """
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", str(out)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/index.html"
        import urllib.request

        for _ in range(100):                      # wait until it answers (about 0.1 s)
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        beside = Path(sys.executable).with_name("linkchecker")
        cmd = [str(beside) if beside.exists() else "linkchecker", "--no-status", "--no-warnings", url]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    finally:
        server.terminate()
        server.wait(timeout=10)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"broken links in the built site (LinkChecker exit {result.returncode})")
    summary = next((line for line in result.stdout.splitlines() if "links in" in line), "")
    return summary


def build(out: Path) -> Path:
    import yaml  # PyYAML comes with MkDocs

    with tempfile.TemporaryDirectory(prefix="workbench-docs-") as tmp:
        tmp = Path(tmp)
        src = tmp / "src"
        src.mkdir()
        nav = assemble(src)
        config = tmp / "mkdocs.yml"
        config.write_text(yaml.safe_dump(mkdocs_config(src, out, nav), sort_keys=False), encoding="utf-8")
        home = tmp / "home"
        home.mkdir(mode=0o700)
        env = dict(os.environ, WORKBENCH_HOME=str(home), PYTHONPATH=str(ROOT))
        env.pop("MPLBACKEND", None)  # the kernels draw inline, so the plots land in the pages
        subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--clean",
                        "--config-file", str(config)], check=True, env=env, cwd=tmp)
    print("links checked:", check_links(out))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site",
                        help="where the built site goes (default: build/site)")
    args = parser.parse_args(argv)
    out = build(args.out.resolve())
    print(f"site built: {out / 'index.html'}  (serve it: python -m http.server -d {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

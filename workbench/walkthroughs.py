"""The walkthrough notebooks that ship inside the package, and ``workbench notebooks DIR``.

In a checkout ``workbench/notebooks`` is a link to ``notebooks/``; in an installed wheel the
notebooks are package data. Either way :func:`notebook_path` finds them, so the dashboard and a
learner's copy work outside the repository too.
"""
from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path


def notebooks_dir() -> Path:
    """The folder that holds the walkthroughs (``01_training.ipynb`` …, ``solutions/``)."""
    return Path(str(resources.files("workbench") / "notebooks"))


def notebook_path(name: str) -> Path:
    """The path of one shipped notebook, e.g. ``notebook_path("04_monitoring.ipynb")``."""
    path = notebooks_dir() / name
    if not path.is_file():
        known = ", ".join(p.name for p in walkthroughs())
        raise FileNotFoundError(f"no notebook {name!r} ships with the workbench; there are: {known}")
    return path


def walkthroughs() -> list[Path]:
    """The numbered walkthroughs, in order."""
    return sorted(notebooks_dir().glob("[0-9]*.ipynb"))


def copy_walkthroughs(destination, *, overwrite: bool = False) -> list[Path]:
    """Copy the walkthroughs and their solutions into ``destination`` (created if needed).

    Existing files are left alone unless ``overwrite``: a learner's edited notebook is never
    replaced by accident. Returns the paths written.
    """
    destination = Path(destination)
    sources = walkthroughs() + sorted((notebooks_dir() / "solutions").glob("*.ipynb"))
    targets = [destination / src.relative_to(notebooks_dir()) for src in sources]
    clashes = [t for t in targets if t.exists()]
    if clashes and not overwrite:
        raise FileExistsError(f"{len(clashes)} notebook(s) already exist in {destination} "
                              f"(e.g. {clashes[0].name}); pass --force to replace them")
    for src, target in zip(sources, targets):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
    return targets


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("notebooks", help="copy the walkthrough notebooks into a folder",
                              description="Copy the numbered walkthroughs (and solutions/) that ship "
                                          "with the workbench into DIR, to open in JupyterLab.")
    p.add_argument("dir", help="destination folder (created if needed)")
    p.add_argument("--force", action="store_true", help="replace notebooks that already exist there")
    p.set_defaults(func=run)


def run(args) -> int:
    import os

    written = copy_walkthroughs(args.dir, overwrite=args.force)
    print(f"copied {len(written)} notebooks into {args.dir}")
    root = " --allow-root" if hasattr(os, "geteuid") and os.geteuid() == 0 else ""
    print(f"open them with:  jupyter lab{root} {args.dir}")
    return 0

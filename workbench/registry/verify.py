"""``verify``: every blob against its SHA-256, every row against its files, every alias against
its version. Left-overs of a crash (temporary files, blobs whose row was never committed) are
harmless and not reported: no row points at them, so nothing can load them."""
from __future__ import annotations


def verify_registry(tables, blobs) -> list[str]:
    """Return the problems found in a registry, one sentence each (empty when sound).

    Parameters
    ----------
    tables : workbench.store.RegistryTables
    blobs : workbench.registry.blobs.BlobStore
    """
    problems = []
    problems += tables.db.integrity_problems()
    rows, aliases, counters = tables.verify_rows()
    damaged = {}
    for sha in blobs.names():
        problem = blobs.check(sha)
        if problem:
            damaged[sha] = problem
            problems.append(f"{problem} (file {blobs.root / sha})")
    for r in rows:
        label = f"{r['name']} v{r['version']}"
        files = [("weight file", r["sha256"], r["size_bytes"])]
        if r["reference_sha256"]:
            files.append(("reference file", r["reference_sha256"], r["reference_size"]))
        for what, sha, size in files:
            path = blobs.root / sha
            if not path.is_file():
                problems.append(f"{label}: its {what} {path} is missing")
            elif sha in damaged:
                problems.append(f"{label}: its {what} {path} does not match its SHA-256")
            elif path.stat().st_size != size:
                problems.append(f"{label}: its {what} has {path.stat().st_size} bytes, "
                                f"the registry recorded {size}")
    for r in aliases:
        if r["archived"] is None:
            problems.append(f"alias {r['alias']!r} of {r['name']!r} points at v{r['version']}, "
                            "which does not exist")
        elif r["archived"]:
            problems.append(f"alias {r['alias']!r} of {r['name']!r} points at archived "
                            f"v{r['version']}")
    for name, next_version, highest in counters:
        if highest is not None and next_version <= highest:
            problems.append(f"model {name!r} would reuse version numbers: next is {next_version} "
                            f"but v{highest} exists")
    return problems

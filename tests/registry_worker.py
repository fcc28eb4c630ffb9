"""Child process for the registry concurrency and crash tests (run as a script).

``python registry_worker.py HOME register NAME COUNT SEED0 [SIZE]`` registers COUNT fake models
(seeds SEED0, SEED0+1, ...), re-aliasing ``production`` after each; it prints ``ready`` first
and ``done`` at the end. ``die-before-rename`` and ``die-after-blob`` instead of ``register``
make it exit abruptly at that point of the first ``register``.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from registry_fakes import FakeModel

from workbench.registry import Registry


def _arm(action):
    """Make this process die (``os._exit``, like SIGKILL: no cleanup) at a chosen moment."""
    import os

    from workbench.registry import blobs

    if action == "die-before-rename":          # temp file written and fsynced, not renamed
        blobs.os.replace = lambda *a: os._exit(9)
    elif action == "die-after-blob":           # weight file in place, metadata not committed
        put = blobs.BlobStore.put

        def put_then_die(self, data):
            put(self, data)
            os._exit(9)
        blobs.BlobStore.put = put_then_die


def main(argv):
    home, action, name, count, seed0 = argv[:5]
    size = int(argv[5]) if len(argv) > 5 else 4
    reg = Registry(home, author=f"worker{seed0}")
    print("ready", flush=True)
    if action.startswith("die-"):
        _arm(action)
    if action == "register" or action.startswith("die-"):
        for i in range(int(count)):
            seed = int(seed0) + i
            mv = reg.register(name, FakeModel(seed, size=size), metrics={"seed": seed},
                              tags={"seed": seed}, reference=FakeModel(seed, size=size).coef_.T)
            reg.set_alias(name, "production", mv.version)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

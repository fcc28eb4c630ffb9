"""The prediction log's write process: ``python -m workbench.monitoring.write_process DB SYNC``.

A serving worker's log writer thread hands it whole batches of queued records, encoded in one
``orjson.dumps`` call (numpy arrays included), and collects the outcome at its next turn; this
process adds up the roll-ups (:func:`.rollup.summarise_rows`) and runs the inserts. So the
worker's own interpreter does almost nothing per logged request, and its event loop never shares
the GIL with SQLite work — why that matters is in :mod:`workbench.store.append_process`, which carries the requests.

Imports neither numpy nor the web stack, so it costs a worker about 20 MB.

The rows are the in-thread writer's to the byte. The roll-ups are counted from the records as
JSON carries them, so an output JSON cannot hold (NaN, ±inf: ``null``) is counted as ``None``,
and a float32 output exactly at a two-digit rounding boundary may be counted in the neighbouring
bucket — as a reader recomputing them from the stored rows would count them.
"""
from __future__ import annotations

import orjson

from ..store.append_process import main as _main
from .rollup import summarise_rows

#: the part kind that carries raw log records (the statements take indexes 0–4)
RECORDS = 255
#: indexes of the store's append statements: the request rows, then the four roll-ups
_INSERT, _ROLLUPS = 0, (1, 2, 3, 4)


def expand(parts):
    """Turn each :data:`RECORDS` part into the insert of its rows and their roll-ups.

    A record is the log's queue tuple, in :data:`workbench.store.predictions.COLUMNS` order; its
    ``outputs`` and ``inputs`` arrays are stored as their JSON text by the insert itself."""
    out = []
    for index, data in parts:
        if index != RECORDS:
            out.append((index, data))
            continue
        records = orjson.loads(data)
        out.append((_INSERT, data))
        rollups = summarise_rows((r[0], r[2], r[3], r[5], r[6], r[7], r[8], r[14])
                                 for r in records if r[11] is None)  # shadows are not traffic
        out += [(i, orjson.dumps(rows)) for i, rows in zip(_ROLLUPS, rollups) if rows]
    return out


if __name__ == "__main__":
    import sys

    sys.exit(_main(expand=expand, module=__name__))

"""Schema versions: a home made by the previous release (tests/data/previous_release, dumped from
its code) opens and migrates; a newer schema is refused with the fix; migrations apply once."""
import math
import shutil
import sqlite3
from pathlib import Path

import pytest

from workbench.monitoring import Monitor, read_predictions
from workbench.monitoring.alerts import latency_above
from workbench.registry import Registry
from workbench.serving.keys import KeyStore
from workbench.store import COMPONENTS, Migration, SchemaError, Store
from workbench.store.migrations import migrate
from workbench.store.sqlite import SQLiteDatabase

DATA = Path(__file__).parent / "data" / "previous_release"
NOW = 1_700_000_000.0


@pytest.fixture
def old_home(tmp_path):
    """A home exactly as the release before schema versions left it."""
    home = tmp_path / "home"
    home.mkdir()
    for name in ("registry", "predictions"):
        conn = sqlite3.connect(home / f"{name}.db")
        conn.executescript((DATA / f"{name}.sql").read_text())
        conn.close()
    shutil.copytree(DATA / "blobs", home / "blobs")
    return home


def versions_of(path) -> dict:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT component, version FROM schema_version").fetchall())
    finally:
        conn.close()


def test_the_previous_release_has_no_schema_version(old_home):
    conn = sqlite3.connect(old_home / "registry.db")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert "schema_version" not in tables and {"models", "versions", "serving_api_keys"} <= tables


def test_a_home_of_the_previous_release_migrates_and_keeps_everything(old_home):
    with Registry(old_home) as reg:
        assert reg.verify() == []
        assert reg.models() == ["m", "other"]
        assert [v.version for v in reg.versions("m")] == [1, 2, 3, 4]
        assert reg.get_version("m", 4).archived and reg.get_version("m").version == 3
        route = reg.route("m", "production")
        assert route.weights == {2: 0.9, 3: 0.1} and route.shadow == 1
        assert reg.rollback("m", "production") == 2          # the alias stack came along
        assert [e.action for e in reg.history("m")][:3] == ["registered"] * 3
        assert reg.reference("m", 1)["n_rows"] == 50
        mv = reg.register("m", _Model())
        assert mv.version == 5                               # numbers are never reused
    assert versions_of(old_home / "registry.db") == {"registry": 1}
    keys = KeyStore(old_home)
    assert [(k.name, k.revoked) for k in keys.list()] == [("ci", False), ("old", True)]
    keys.close()
    assert versions_of(old_home / "registry.db") == {"registry": 1,
                                                     "keys": len(COMPONENTS["keys"][1])}
    rows = read_predictions(old_home)
    assert len(rows) == 21 and [r.role for r in rows].count("shadow") == 1
    mon = Monitor(old_home, rules=[latency_above(5)])
    try:
        snap = mon.snapshot(window=60, now=NOW + 30)
        health = snap.models["m"]
        assert health.requests == 20 and math.isfinite(health.p99_ms)
        (alert,) = [a for a in snap.alerts if a.model == "m"]
        assert alert.firing and alert.since == NOW + 20      # state kept from the old release
    finally:
        mon.close()
    assert versions_of(old_home / "predictions.db") == {
        "predictions": len(COMPONENTS["predictions"][1])}


def test_a_home_from_before_splits_and_shadows_gains_the_columns(old_home):
    conn = sqlite3.connect(old_home / "registry.db")
    for table, column in (("aliases", "split"), ("aliases", "shadow"), ("alias_stack", "split")):
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.commit()
    conn.close()
    with Registry(old_home) as reg:
        assert reg.route("m", "production").weights == {2: 1.0}
        reg.set_split("m", "production", {2: 0.5, 3: 0.5})
        assert reg.route("m", "production").weights == {2: 0.5, 3: 0.5}


def test_a_newer_schema_is_refused_with_the_fix(tmp_path):
    Registry(tmp_path).close()
    conn = sqlite3.connect(tmp_path / "registry.db")
    conn.execute("UPDATE schema_version SET version = 99 WHERE component = 'registry'")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaError, match=r"registry schema version 99.*upgrade the workbench"):
        Registry(tmp_path)


def test_a_new_migration_applies_once_and_is_recorded(tmp_path):
    db = SQLiteDatabase(tmp_path / "x.db")
    steps = list(COMPONENTS["registry"][1])
    assert migrate(db, "registry", steps) == 1
    steps.append(Migration(2, "a column for labels", "ALTER TABLE versions ADD COLUMN label TEXT",
                           "ALTER TABLE versions ADD COLUMN label TEXT"))
    assert migrate(db, "registry", steps) == 2
    assert migrate(db, "registry", steps) == 2               # nothing left to do: no error
    assert "label" in db.columns("versions")
    db.close()
    assert versions_of(tmp_path / "x.db") == {"registry": 2}


def test_migrations_must_be_numbered_in_order(tmp_path):
    db = SQLiteDatabase(tmp_path / "x.db")
    with pytest.raises(SchemaError, match="numbered 1, 2, 3"):
        migrate(db, "registry", [Migration(2, "x", "SELECT 1", "SELECT 1")])
    db.close()


def test_a_failed_migration_leaves_the_schema_as_it_was(tmp_path):
    db = SQLiteDatabase(tmp_path / "x.db")
    steps = list(COMPONENTS["keys"][1])
    migrate(db, "keys", steps)
    broken = steps + [Migration(len(steps) + 1, "broken", "ALTER TABLE serving_api_keys ADD COLUMN scope TEXT;\n"
                                             "THIS IS NOT SQL", "")]
    with pytest.raises(sqlite3.OperationalError):
        migrate(db, "keys", broken)
    assert "scope" not in db.columns("serving_api_keys")
    db.close()
    assert versions_of(tmp_path / "x.db") == {"keys": len(steps)}


def test_the_store_url_is_checked():
    from workbench.store import resolve_url

    assert resolve_url("sqlite") is None
    assert resolve_url("postgresql://u@h/db") == "postgresql://u@h/db"
    with pytest.raises(ValueError, match="postgresql://"):
        resolve_url("mysql://u@h/db")
    assert repr(Store("/nowhere")).startswith("<Store SQLite in")


class _Model:
    def to_spec(self):
        import numpy as np

        return {"class": "FakeModel", "format": "workbench.model/1"}, {"w": np.ones(3)}


def _with_password(url: str) -> str:
    scheme, _, rest = url.partition("://")
    user, _, where = rest.partition("@")
    return f"{scheme}://{user}:hunter2-secret@{where}"    # trust auth: the password is ignored


@pytest.mark.postgres
def test_no_repr_or_schema_error_shows_the_password_of_the_store_url(tmp_path, postgres_url):
    store = Store(tmp_path, _with_password(postgres_url))
    try:
        parts = [store.registry, store.keys, store.predictions, store.quotas, store.loop]
        shown = [repr(p) for p in parts] + [repr(p.db) for p in parts]
        assert all("hunter2" not in text and "127.0.0.1" in text for text in shown), shown
        assert repr(store.keys).startswith("<KeyTables 127.0.0.1:")
        with store.registry.db.write() as conn:
            conn.execute("UPDATE schema_version SET version = 99 WHERE component = 'registry'")
    finally:
        store.close()
    again = Store(tmp_path, _with_password(postgres_url))
    try:
        with pytest.raises(SchemaError, match="registry schema version 99") as refused:
            again.registry.db.query("SELECT 1")
    finally:
        again.close()
    assert "hunter2" not in str(refused.value) and "127.0.0.1" in str(refused.value)


def test_tables_name_their_sqlite_file(tmp_path):
    store = Store(tmp_path)
    try:
        assert repr(store.predictions) == f"<PredictionTables {tmp_path / 'predictions.db'}>"
    finally:
        store.close()

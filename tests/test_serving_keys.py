"""Key store units: old tables migrate in place, rotation and expiry without a server, and
hostile text to every parser raises only ValueError/TypeError (Hypothesis)."""
import hashlib
import json
import sqlite3
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.registry import Registry
from workbench.serving.auth import Authenticator
from workbench.serving.errors import ApiError
from workbench.serving.key_options import (
    parse_duration,
    parse_expiry,
    parse_models,
    parse_rate,
)
from workbench.serving.keys import KeyStore

OLD_KEY = "wb_0123abcd_" + "A" * 43


def test_keys_of_an_older_table_keep_working(tmp_path):
    Registry(tmp_path).close()
    conn = sqlite3.connect(tmp_path / "registry.db")
    conn.execute("CREATE TABLE serving_api_keys (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
                 "role TEXT NOT NULL, sha256 TEXT NOT NULL, created_at REAL NOT NULL, "
                 "revoked_at REAL)")
    conn.execute("INSERT INTO serving_api_keys VALUES ('0123abcd', 'legacy', 'predictor', ?, ?, "
                 "NULL)", (hashlib.sha256(OLD_KEY.encode()).hexdigest(), time.time()))
    conn.commit()
    conn.close()
    store = KeyStore(tmp_path)
    try:
        found = store.authenticate(OLD_KEY)
        assert found.name == "legacy" and found.models is None and found.expires_at is None
        assert not found.limited and found.may_use("anything") and found.allows("predictor")
        assert Authenticator(store).check(f"Bearer {OLD_KEY}", "predictor", "iris") == found
    finally:
        store.close()


def test_rotation_grace_and_expiry_in_the_store(tmp_path, store_backend):
    store = KeyStore(tmp_path)
    try:
        old = store.create("svc", "predictor", expires_at=time.time() + 3600)
        new = store.rotate("svc", grace=3600)
        assert store.authenticate(old).name == store.authenticate(new).name == "svc"
        newer = store.rotate("svc")                         # no grace: the last one stops now
        assert store.authenticate(new) is None and store.authenticate(old) is None
        assert store.authenticate(newer).name == "svc"
        gone = store.create("gone", "viewer", expires_at=time.time() - 1)
        with pytest.raises(ApiError) as refused:
            Authenticator(store).check(f"Bearer {gone}", "viewer")
        assert refused.value.status == 401 and "expired" in refused.value.message
        with pytest.raises(ValueError, match="revoked"):
            store.revoke("gone") and store.rotate("gone")
        with pytest.raises(LookupError):
            store.rotate("nobody")
        store.touch(store.get("svc").id)
        assert store.flush_used() == 1 and store.get("svc").last_used_at is not None
    finally:
        store.close()


PARSERS = [parse_models, parse_duration, parse_rate, lambda v: parse_expiry(v),
           lambda v: parse_expiry(None, v)]


@settings(max_examples=150, deadline=None)
@given(value=st.one_of(st.text(max_size=40), st.integers(), st.floats(), st.none(),
                       st.lists(st.text(max_size=10), max_size=4), st.booleans()),
       which=st.integers(0, len(PARSERS) - 1))
def test_parsers_answer_hostile_input_with_value_or_type_errors(value, which):
    try:
        PARSERS[which](value)
    except (ValueError, TypeError) as exc:
        assert str(exc)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_authenticate_never_raises(tmp_path_factory, text):
    if "store" not in _STORE:
        _STORE["store"] = KeyStore(tmp_path_factory.mktemp("fuzz"))
    store = _STORE["store"]
    assert store.authenticate(text) is None
    try:
        Authenticator(store).check(f"Bearer {text}", "viewer", text)
    except ApiError as exc:
        assert exc.status == 401


_STORE: dict = {}


def test_keys_cli_lists_scopes_limits_and_events(tmp_path, capsys, store_backend):
    from workbench.cli import main

    home = str(tmp_path)
    assert main(["keys", "create", "--home", home, "--role", "predictor", "--name", "acme",
                 "--models", "digits,iris-*", "--expires", "2027-01-31T00:00:00Z",
                 "--rate", "50/s", "--burst", "100", "--daily-rows", "5000"]) == 0
    secret = capsys.readouterr().out.splitlines()[-1]
    assert main(["keys", "list", "--home", home]) == 0
    table = capsys.readouterr().out
    assert "digits,iris-*" in table and "2027-01-31T00:00:00Z" in table
    assert "50/s burst 100, 5000 rows/day" in table and secret not in table
    assert main(["keys", "list", "--home", home, "--format", "json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["models"] == ["digits", "iris-*"] and listed["daily_rows"] == 5000
    assert main(["keys", "limit", "acme", "--home", home]) == 0       # no option: no limits
    assert "acme': -" in capsys.readouterr().out
    assert main(["keys", "events", "--home", home]) == 0
    events = capsys.readouterr().out
    assert "key created" in events and "key limited" in events and secret not in events
    assert main(["keys", "create", "--home", home, "--role", "viewer", "--name", "x",
                 "--expires", "2027-01-31", "--expires-in", "1d"]) == 1
    assert "not both" in capsys.readouterr().err

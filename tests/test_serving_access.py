"""Access governance against a real server: model scopes, expiry, rotation with a grace period,
last-used times, the audit log of key events, and ``workbench usage`` totals = the log."""
import csv
import io
import json
import re
import sqlite3

import httpx
import pytest
from serving_helpers import Server, auth, data, make_home, v2_body, wait_for

from workbench.cli import main as workbench_main
from workbench.monitoring.log import wait_until_written
from workbench.serving.keys import KeyStore

pytestmark = pytest.mark.slow
BODY = v2_body(data(3)[0])
_KEY_LINE = re.compile(r"^wb_[0-9a-f]{8}_\S+$", re.MULTILINE)


def infer(server, key, model="iris"):
    return httpx.post(f"{server.url}/v2/models/{model}/infer", json=BODY, headers=auth(key),
                      timeout=10)


def cli_key(capsys, *argv) -> str:
    """Run ``workbench keys ...`` and return the key it printed."""
    capsys.readouterr()
    assert workbench_main(["keys", *argv]) == 0
    return _KEY_LINE.search(capsys.readouterr().out).group(0)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    keys = make_home(home)
    with Server(home) as server:
        yield server, keys, home


def test_scoped_key_gets_403_on_other_models(served, capsys):
    server, _, home = served
    iris_only = cli_key(capsys, "create", "--home", str(home), "--role", "predictor",
                        "--name", "iris-only", "--models", "iris")
    pattern = cli_key(capsys, "create", "--home", str(home), "--role", "predictor",
                      "--name", "h-star", "--models", "ho*,nothing-[0-9]")
    assert infer(server, iris_only, "iris").status_code == 200
    refused = infer(server, iris_only, "house")
    assert refused.status_code == 403
    assert "may not use model 'house'" in refused.json()["error"]
    assert httpx.get(f"{server.url}/v2/models/house", headers=auth(iris_only),
                     timeout=10).status_code == 403
    assert httpx.get(f"{server.url}/v2/models/iris", headers=auth(iris_only),
                     timeout=10).status_code == 200
    assert infer(server, pattern, "house").status_code == 200
    assert infer(server, pattern, "iris").status_code == 403
    # a model outside the scope is 403 whether it exists or not (no probing of names)
    assert infer(server, iris_only, "no-such-model").status_code == 403
    assert infer(server, pattern, "horse").status_code == 404


def test_expired_key_gets_401(served, capsys):
    server, _, home = served
    short = cli_key(capsys, "create", "--home", str(home), "--role", "predictor",
                    "--name", "short-lived", "--expires-in", "2s")
    past = cli_key(capsys, "create", "--home", str(home), "--role", "predictor",
                   "--name", "past", "--expires", "2020-01-01T00:00:00Z")
    future = cli_key(capsys, "create", "--home", str(home), "--role", "predictor",
                     "--name", "future", "--expires", "2999-01-31T00:00:00Z")
    assert infer(server, short).status_code == 200
    assert infer(server, future).status_code == 200
    answer = infer(server, past)
    assert answer.status_code == 401
    assert "expired at 2020-01-01T00:00:00Z" in answer.json()["error"]
    assert wait_for(lambda: infer(server, short).status_code == 401, timeout=10)
    assert infer(server, future).status_code == 200


def test_rotation_keeps_the_old_secret_for_the_grace_period(served, capsys):
    server, _, home = served
    old = cli_key(capsys, "create", "--home", str(home), "--role", "predictor", "--name", "rot")
    assert infer(server, old).status_code == 200
    new = cli_key(capsys, "rotate", "rot", "--home", str(home), "--grace", "4s")
    assert new != old and new.split("_")[1] == old.split("_")[1]     # same public id
    # both secrets work until the grace period ends (the server picks the rotation up)
    assert wait_for(lambda: infer(server, new).status_code == 200, timeout=5)
    assert infer(server, old).status_code == 200
    assert wait_for(lambda: infer(server, old).status_code == 401, timeout=15)
    assert infer(server, new).status_code == 200
    # rotating again without grace: the previous secret stops at once
    newer = cli_key(capsys, "rotate", "rot", "--home", str(home))
    assert wait_for(lambda: infer(server, newer).status_code == 200, timeout=5)
    assert wait_for(lambda: infer(server, new).status_code == 401, timeout=5)


def test_every_key_event_is_in_the_audit_log(served, capsys):
    server, keys, home = served
    cli_key(capsys, "create", "--home", str(home), "--role", "viewer", "--name", "audited",
            "--models", "iris", "--expires-in", "30d", "--rate", "5/s", "--daily-rows", "1000")
    secret = cli_key(capsys, "rotate", "audited", "--home", str(home), "--grace", "1h")
    assert workbench_main(["keys", "limit", "audited", "--home", str(home), "--rate", "10/s",
                           "--burst", "20"]) == 0
    assert workbench_main(["keys", "revoke", "audited", "--home", str(home)]) == 0
    made = httpx.post(f"{server.url}/admin/keys", headers=auth(keys["admin"]), timeout=10,
                      json={"name": "via-http", "role": "predictor", "models": ["iris"],
                            "expires_in": "1d", "rate": "2/s"}).json()
    rotated = httpx.post(f"{server.url}/admin/keys/via-http/rotate", json={"grace": "10s"},
                         headers=auth(keys["admin"]), timeout=10)
    assert rotated.status_code == 200 and rotated.json()["key"] != made["key"]
    assert httpx.delete(f"{server.url}/admin/keys/via-http", headers=auth(keys["admin"]),
                        timeout=10).status_code == 200
    store = KeyStore(home)
    try:
        actions = [(name, action) for name, action, *_ in store.events()]
        audited = [e for e in store.events("audited")]
        via_http = store.events("via-http")
        listed = {k.name: k for k in store.list()}
    finally:
        store.close()
    assert [a for _, a, *_ in audited] == ["key created", "key rotated", "key limited",
                                           "key revoked"]
    assert audited[0][4]["models"] == ["iris"] and audited[0][4]["daily_rows"] == 1000
    assert audited[1][4]["grace_s"] == 3600
    assert audited[2][4]["rate"] == 10 and audited[2][4]["burst"] == 20
    assert [a for _, a, *_ in via_http] == ["key created", "key rotated", "key revoked"]
    assert via_http[0][2] == "admin-key"             # the admin key that made it is the author
    for name in ("viewer-key", "iris-only", "rot", "short-lived"):
        assert (name, "key created") in actions or name not in listed
    assert listed["via-http"].models == ("iris",) and listed["via-http"].rate == 2
    # no secret ever reaches the audit log
    conn = sqlite3.connect(home / "registry.db")
    dump = "\n".join(conn.iterdump())
    conn.close()
    for key in (secret, made["key"], rotated.json()["key"]):
        assert key not in dump and key.split("_", 2)[2] not in dump


HOSTILE_KEY_BODIES = [
    ({"name": "h1", "role": "predictor", "models": 7}, 422, "models"),
    ({"name": "h2", "role": "predictor", "models": ["../etc"]}, 422, "model pattern"),
    ({"name": "h3", "role": "predictor", "models": ""}, 422, "at least one"),
    ({"name": "h4", "role": "predictor", "expires_at": "tomorrow"}, 422, "ISO 8601"),
    ({"name": "h5", "role": "predictor", "expires_in": "forever"}, 422, "duration"),
    ({"name": "h6", "role": "predictor", "expires_in": "1d", "expires_at": "2030-01-01T00:00Z"},
     422, "not both"),
    ({"name": "h7", "role": "predictor", "rate": "fast"}, 422, "rate"),
    ({"name": "h8", "role": "predictor", "rate": "5/s", "burst": "many"}, 422, "burst"),
    ({"name": "h9", "role": "predictor", "burst": 3}, 422, "--burst needs --rate"),
    ({"name": "h10", "role": "predictor", "daily_rows": 1.5}, 422, "daily rows"),
    ({"name": "h11", "role": "predictor", "daily_rows": True}, 422, "daily rows"),
    ({"name": "h12", "role": "predictor", "expires_at": {"$gt": 1}}, 422, "ISO 8601"),
]


@pytest.mark.parametrize("body, status, words", HOSTILE_KEY_BODIES)
def test_hostile_key_requests_get_4xx_with_an_error(served, body, status, words):
    server, keys, _ = served
    answer = httpx.post(f"{server.url}/admin/keys", json=body, headers=auth(keys["admin"]),
                        timeout=10)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["error"]


@pytest.mark.parametrize("path, body, status", [
    ("/admin/keys/nobody/rotate", {"grace": "1h"}, 404),
    ("/admin/keys/admin-key/rotate", {"grace": "forever"}, 422),
    ("/admin/keys/admin-key/rotate", {"grace": 10**12}, 422),
    ("/admin/keys/admin-key/rotate", [], 400),
])
def test_hostile_rotations_get_4xx(served, path, body, status):
    server, keys, _ = served
    answer = httpx.post(server.url + path, json=body, headers=auth(keys["admin"]), timeout=10)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]
    limits = httpx.put(f"{server.url}/admin/keys/admin-key/limits", json={"rate": -1},
                       headers=auth(keys["admin"]), timeout=10)
    assert limits.status_code == 422 and "positive" in limits.json()["error"]


def test_usage_totals_equal_the_log_in_every_format(served, capsys):
    server, keys, home = served
    for _ in range(5):
        assert infer(server, keys["predictor"]).status_code == 200
    for _ in range(3):
        assert infer(server, keys["admin"], "house").status_code == 200
    assert infer(server, keys["viewer"]).status_code == 403          # logged as an error
    httpx.post(f"{server.url}/v2/models/iris/infer", content=b"{", timeout=10,
               headers=auth(keys["predictor"]))                         # a 400
    server.stop()                                  # flushes the log and the last-used times
    wait_until_written(home)
    conn = sqlite3.connect(home / "predictions.db")
    expected = {k: (n, r, e, ms) for k, n, r, e, ms in conn.execute(
        "SELECT COALESCE(key_id, '-'), COUNT(*), SUM(CASE WHEN status < 400 THEN rows ELSE 0 END),"
        " SUM(status >= 400), SUM(latency_ms) FROM predictions WHERE role IS NULL "
        "GROUP BY key_id").fetchall()}
    conn.close()
    store = KeyStore(home)
    ids = {k.name: k.id for k in store.list()}
    used = {k.name: k.last_used_at for k in store.list()}
    store.close()
    assert expected[ids["predictor-key"]][:3] == (6, 15, 1)
    assert expected[ids["viewer-key"]][:3] == (1, 0, 1)
    assert used["predictor-key"] is not None and used["revoked-key"] is None

    capsys.readouterr()
    assert workbench_main(["usage", "--home", str(home), "--format", "json", "--period",
                           "all"]) == 0
    as_json = {r["key_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert workbench_main(["usage", "--home", str(home), "--format", "csv", "--period",
                           "all"]) == 0
    as_csv = {r["key_id"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert workbench_main(["usage", "--home", str(home), "--format", "table", "--period",
                           "all"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert set(as_json) == set(as_csv) == set(expected)
    for key_id, (n, rows, errors, ms) in expected.items():
        for report in (as_json[key_id], as_csv[key_id]):
            assert (int(report["requests"]), int(report["rows"]), int(report["errors"])) == \
                (n, rows, errors)
            assert float(report["compute_ms"]) == pytest.approx(ms, abs=0.01)
        line = next(line for line in table if line.split()[1] == key_id)
        assert [int(x) for x in line.split()[-4:-1]] == [n, rows, errors]
    total = table[-1].split()
    assert total[0] == "total" and int(total[1]) == sum(v[0] for v in expected.values())
    # broken down by version, the totals are the same
    capsys.readouterr()
    assert workbench_main(["usage", "--home", str(home), "--by", "version", "--format", "json",
                           "--since", "1h"]) == 0
    by_version = json.loads(capsys.readouterr().out)
    assert sum(r["requests"] for r in by_version) == sum(v[0] for v in expected.values())
    assert {r["model"] for r in by_version if r["key_id"] == ids["admin-key"]} >= {"house"}

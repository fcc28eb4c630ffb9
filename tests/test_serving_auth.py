"""Auth: the matrix of every caller × every endpoint, revocation without restart, the keys CLI,
and ``--no-auth`` only on loopback."""
import itertools
import re

import httpx
import pytest

from serving_helpers import Server, auth, data, make_home, v2_body, wait_for
from workbench.cli import main as workbench_main
from workbench.serving.keys import RANK, KeyStore
from workbench.serving.server import is_loopback, serve

BODY = v2_body(data(2)[0])
_counter = itertools.count()

#: (method, path, json body or a callable making one, least role; None = open)
ENDPOINTS = [
    ("GET", "/v2/health/live", None, None),
    ("GET", "/v2/health/ready", None, None),
    ("GET", "/openapi.json", None, None),
    ("GET", "/docs", None, None),
    ("GET", "/v2", None, "viewer"),
    ("GET", "/v2/models", None, "viewer"),
    ("GET", "/v2/models/iris", None, "viewer"),
    ("GET", "/v2/models/iris/versions/1", None, "viewer"),
    ("GET", "/v2/models/iris/ready", None, "viewer"),
    ("GET", "/v2/models/iris/versions/production/ready", None, "viewer"),
    ("GET", "/v1/models/iris", None, "viewer"),
    ("GET", "/metrics", None, "viewer"),
    ("POST", "/v2/models/iris/infer", BODY, "predictor"),
    ("POST", "/v2/models/iris/versions/2/infer", BODY, "predictor"),
    ("POST", "/v1/models/iris:predict", {"instances": data(2)[0].tolist()}, "predictor"),
    ("PUT", "/v2/models/iris/aliases/matrix", {"version": 2}, "maintainer"),
    ("POST", "/v2/models/iris/aliases/matrix/rollback", None, "maintainer"),
    ("POST", "/v2/repository/models/iris/load", None, "maintainer"),
    ("PUT", "/v2/models/iris/aliases/production/shadow", {"version": None}, "maintainer"),
    ("POST", "/v2/models/iris/aliases/production/promote", None, "maintainer"),
    ("POST", "/v2/models/iris/aliases/production/abort", None, "maintainer"),
    ("GET", "/admin/keys", None, "admin"),
    ("POST", "/admin/keys", lambda: {"name": f"made-{next(_counter)}", "role": "viewer"}, "admin"),
    ("DELETE", "/admin/keys/no-such-key", None, "admin"),
]
CALLERS = ["none", "malformed", "unknown", "revoked", "viewer", "predictor", "maintainer", "admin"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    keys = make_home(home)
    keys["unknown"] = "wb_0badc0de_" + "x" * 43
    keys["malformed"] = "not-a-key"
    with Server(home) as server:
        yield server, keys, home


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("method, path, body, role", ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS])
def test_auth_matrix(served, caller, method, path, body, role):
    server, keys, _ = served
    body = body() if callable(body) else body
    answer = httpx.request(method, server.url + path, json=body,
                           headers=auth(keys.get(caller)), timeout=10)
    if role is None:
        expected = "allowed"
    elif caller in ("none", "malformed", "unknown", "revoked"):
        expected = 401
    else:
        expected = "allowed" if RANK[caller] >= RANK[role] else 403
    if expected == "allowed":
        # allowed through auth: a success, or a non-auth refusal (nothing to roll back, no key)
        assert answer.status_code in (200, 201, 404, 409), answer.text
        if answer.status_code == 404:
            assert path.startswith("/admin/keys/")
        if answer.status_code == 409:     # nothing to roll back; production is not split
            assert path.endswith(("/rollback", "/promote", "/abort"))
    else:
        assert answer.status_code == expected, answer.text
        message = answer.json()["error"]
        assert ("role" in message) if expected == 403 else ("key" in message.lower())
        if expected == 401:
            assert answer.headers["www-authenticate"].startswith("Bearer")


def test_non_bearer_scheme_is_refused(served):
    server, keys, _ = served
    answer = httpx.get(server.url + "/v2", headers={"Authorization": f"Basic {keys['admin']}"})
    assert answer.status_code == 401 and "Bearer" in answer.json()["error"]


def test_revocation_takes_effect_without_restart(served):
    server, _, home = served
    store = KeyStore(home)
    key = store.create("short-lived", "predictor")
    store.close()
    url = server.url + "/v2/models/iris/infer"
    # the new key is picked up without a restart too
    assert wait_for(lambda: httpx.post(url, json=BODY, headers=auth(key)).status_code == 200)
    assert workbench_main(["keys", "revoke", "short-lived", "--home", str(home)]) == 0
    answer = wait_for(lambda: (r := httpx.post(url, json=BODY, headers=auth(key))).status_code
                      == 401 and r, timeout=5)
    assert answer and "revoked" in answer.json()["error"]


def test_keys_are_never_in_the_server_log(served):
    server, keys, _ = served
    log = server.logs()
    assert all(keys[r] not in log for r in ("viewer", "predictor", "maintainer", "admin"))


def test_keys_cli_prints_the_key_once_alone_on_its_last_line(tmp_path, capsys, store_backend):
    assert workbench_main(["keys", "create", "--role", "predictor", "--name", "app",
                           "--home", str(tmp_path)]) == 0
    out = capsys.readouterr().out.rstrip("\n").split("\n")
    key = out[-1]
    assert re.fullmatch(r"wb_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", key)
    assert KeyStore(tmp_path).authenticate(key).role == "predictor"
    assert workbench_main(["keys", "list", "--home", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert "app" in listing and "predictor" in listing and key not in listing
    assert workbench_main(["keys", "revoke", "app", "--home", str(tmp_path)]) == 0
    assert KeyStore(tmp_path).authenticate(key).revoked
    # stored hashed: the key itself is nowhere in the database
    from store_helpers import stored_bytes

    stored = stored_bytes(tmp_path, "serving_api_keys")
    assert key.encode() not in stored and key.split("_")[1].encode() in stored


def test_keys_cli_refuses_bad_input(tmp_path, capsys, store_backend):
    assert workbench_main(["keys", "create", "--role", "predictor", "--name", "dup",
                           "--home", str(tmp_path)]) == 0
    assert workbench_main(["keys", "create", "--role", "predictor", "--name", "dup",
                           "--home", str(tmp_path)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert workbench_main(["keys", "revoke", "nobody", "--home", str(tmp_path)]) == 1
    with pytest.raises(SystemExit):
        workbench_main(["keys", "create", "--role", "root", "--name", "x", "--home", str(tmp_path)])


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("::1", True),
                                            ("localhost", True), ("0.0.0.0", False),
                                            ("192.168.1.10", False), ("example.org", False)])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_no_auth_is_refused_on_a_public_host(tmp_path, capsys):
    with pytest.raises(ValueError, match="loopback"):
        serve(tmp_path, host="0.0.0.0", auth=False)
    assert workbench_main(["serve", "--home", str(tmp_path), "--host", "0.0.0.0",
                           "--no-auth"]) == 1
    assert "loopback" in capsys.readouterr().err


def test_no_auth_on_loopback_serves_without_keys(tmp_path):
    make_home(tmp_path)
    with Server(tmp_path, "--no-auth") as server:
        answer = httpx.post(server.url + "/v2/models/iris/infer", json=BODY)
        assert answer.status_code == 200 and answer.json()["model_version"] == "1"

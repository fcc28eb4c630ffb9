"""OAuth 2.0 / OIDC bearer tokens: a key pair made here, its JWKS served by a local HTTP server,
and a real ``workbench serve --jwt-issuer … --jwks-url …``; tokens that are valid, forged,
expired, for someone else, or carry too low a role."""
import contextlib
import json
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from serving_helpers import Server, auth, data, make_home, v2_body

from workbench.monitoring.log import wait_until_written
from workbench.serving.errors import ApiError
from workbench.serving.jwt_auth import JwtConfig, JwtVerifier

ISSUER, AUDIENCE = "https://idp.example.test/realms/ml", "workbench"
BODY = v2_body(data(2)[0])
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks() -> dict:
    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key()))
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(EC_KEY.public_key()))
    return {"keys": [{**rsa_jwk, "kid": "rsa-1", "alg": "RS256", "use": "sig"},
                     {**ec_jwk, "kid": "ec-1", "alg": "ES256", "use": "sig"}]}


def token(*, key=RSA_KEY, alg="RS256", kid="rsa-1", **claims) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300,
               "role": "predictor", **claims}
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


@contextlib.contextmanager
def jwks_server():
    body = json.dumps(jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/jwks.json":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/jwks.json"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    keys = make_home(home)
    with jwks_server() as url, Server(home, "--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE,
                                      "--jwks-url", url, "--jwt-role-claim", "role",
                                      "--jwt-models-claim", "models") as server:
        yield server, keys, home


def infer(server, bearer, model="iris"):
    return httpx.post(f"{server.url}/v2/models/{model}/infer", json=BODY, headers=auth(bearer),
                      timeout=10)


@pytest.mark.slow
def test_valid_tokens_get_in_with_their_mapped_role(served):
    server, keys, home = served
    assert infer(server, token()).status_code == 200
    assert infer(server, token(key=EC_KEY, alg="ES256", kid="ec-1", sub="bob")).status_code == 200
    # a list of roles maps to the highest workbench role in it; maintainer may reload a model
    maintainer = token(role=["offline_access", "viewer", "maintainer"], sub="carol")
    assert httpx.post(f"{server.url}/v2/repository/models/iris/load", timeout=10,
                      headers=auth(maintainer)).status_code == 200
    assert httpx.post(f"{server.url}/v2/repository/models/iris/load", timeout=10,
                      headers=auth(token())).status_code == 403
    # a little clock skew is forgiven (30 s by default)
    assert infer(server, token(exp=int(time.time()) - 5)).status_code == 200
    # API keys keep working alongside tokens
    assert infer(server, keys["predictor"]).status_code == 200
    server.stop()
    wait_until_written(home)
    conn = sqlite3.connect(home / "predictions.db")
    callers = {k for (k,) in conn.execute("SELECT key_id FROM predictions WHERE status = 200")}
    conn.close()
    assert {"jwt:alice", "jwt:bob"} <= callers


@pytest.fixture
def fresh(tmp_path):
    keys = make_home(tmp_path)
    with jwks_server() as url, Server(tmp_path, "--jwt-issuer", ISSUER, "--jwt-audience",
                                      AUDIENCE, "--jwks-url", url,
                                      "--jwt-models-claim", "scope.models") as server:
        yield server, keys


BAD_TOKENS = {
    "wrong audience": (lambda: token(aud="another-service"), "audience"),
    "wrong issuer": (lambda: token(iss="https://evil.example.test"), "issuer"),
    "expired": (lambda: token(exp=int(time.time()) - 120), "expired"),
    "not yet valid": (lambda: token(nbf=int(time.time()) + 600), "not valid yet"),
    "bad signature": (lambda: token(key=OTHER_KEY), "signature"),
    "alg none": (lambda: jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "mallory",
                                     "exp": int(time.time()) + 300, "role": "admin"},
                                    None, algorithm="none"), "algorithm"),
    "garbage": (lambda: "x.y.z", "malformed"),
    "unknown key id": (lambda: token(kid="nobody"), "does not publish"),
    "ES256 under the RSA key's id": (lambda: token(key=EC_KEY, alg="ES256", kid="rsa-1"),
                                     "another type"),
    "no expiry": (lambda: token(exp=None), "exp"),
    "no audience": (lambda: token(aud=None), "aud"),
}


@pytest.mark.slow
def test_bad_tokens_get_401_and_low_roles_403(fresh):
    server, _ = fresh
    for case, (make, words) in BAD_TOKENS.items():
        answer = infer(server, make())
        assert answer.status_code == 401, (case, answer.text)
        assert words in answer.json()["error"], (case, answer.json())
        assert "Bearer" in answer.headers["www-authenticate"]
    viewer = token(role="viewer")
    assert httpx.get(f"{server.url}/v2/models", headers=auth(viewer), timeout=10).status_code == 200
    low = infer(server, viewer)
    assert low.status_code == 403 and "role 'viewer'" in low.json()["error"]
    none = infer(server, token(role="superuser"))
    assert none.status_code == 403 and "no workbench role" in none.json()["error"]
    scoped = token(scope={"models": ["house"]})
    assert infer(server, scoped, "house").status_code == 200
    assert infer(server, scoped, "iris").status_code == 403


def test_jwks_file_and_config_checks(tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks()))
    verifier = JwtVerifier(JwtConfig(issuer=ISSUER, audience=AUDIENCE, jwks_file=str(path)))
    holder = verifier.principal(token(role=["viewer", "admin"], sub="dana"))
    assert (holder.id, holder.role, holder.models) == ("jwt:dana", "admin", None)
    with pytest.raises(ApiError) as refused:
        verifier.principal(token(key=OTHER_KEY))
    assert refused.value.status == 401
    hs = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60}, "s" * 32,
                    algorithm="HS256", headers={"kid": "rsa-1"})
    with pytest.raises(ApiError, match="algorithm"):
        verifier.principal(hs)
    with pytest.raises(ValueError, match="exactly one"):
        JwtConfig(issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(ValueError, match="http"):
        JwtConfig(issuer=ISSUER, audience=AUDIENCE, jwks_url="file:///etc/passwd")
    with pytest.raises(ValueError, match="does not exist"):
        JwtConfig(issuer=ISSUER, audience=AUDIENCE, jwks_file=str(tmp_path / "missing.json"))


_FILE_VERIFIER: dict = {}


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@settings(max_examples=200, deadline=None)
@given(header=st.dictionaries(st.sampled_from(["alg", "kid", "typ", "jwk"]),
                              st.one_of(st.sampled_from(["RS256", "ES256", "none", "HS256",
                                                         "rsa-1", "ec-1"]),
                                        st.text(max_size=8), st.integers(), st.none())),
       claims=st.dictionaries(st.sampled_from(["iss", "aud", "exp", "nbf", "iat", "sub", "role"]),
                              st.one_of(st.text(max_size=8), st.integers(), st.floats(),
                                        st.lists(st.text(max_size=4), max_size=2), st.none())),
       signature=st.binary(max_size=80))
def test_hostile_tokens_are_refused_with_an_api_error(tmp_path_factory, header, claims, signature):
    if "verifier" not in _FILE_VERIFIER:
        path = tmp_path_factory.mktemp("jwks") / "jwks.json"
        path.write_text(json.dumps(jwks()))
        _FILE_VERIFIER["verifier"] = JwtVerifier(JwtConfig(issuer=ISSUER, audience=AUDIENCE,
                                                           jwks_file=str(path)))
    forged = ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()),
                       _b64(signature)])
    with pytest.raises(ApiError) as refused:
        _FILE_VERIFIER["verifier"].principal(forged)
    assert refused.value.status in (401, 403) and refused.value.message

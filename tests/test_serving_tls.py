"""TLS: the service over HTTPS with a self-signed certificate made here."""
import datetime as dt
import ipaddress
import ssl

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from serving_helpers import Server, auth, data, make_home, v2_body


def self_signed(folder):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def test_https_with_a_self_signed_certificate(tmp_path):
    keys = make_home(tmp_path)
    cert, key = self_signed(tmp_path)
    with Server(tmp_path, ssl=(cert, key)) as server:
        assert server.url.startswith("https://127.0.0.1:")
        answer = httpx.post(server.url + "/v2/models/iris/infer", json=v2_body(data(2)[0]),
                            headers=auth(keys["predictor"]),
                            verify=ssl.create_default_context(cafile=str(cert)))
        assert answer.status_code == 200 and answer.json()["model_version"] == "1"
        # a client that does not trust the certificate refuses to talk
        with pytest.raises(httpx.ConnectError):
            httpx.get(server.url + "/v2/health/live")
        # plain HTTP to the TLS port gets no answer
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{server.port}/v2/health/live", timeout=5)


def test_tls_needs_both_files(tmp_path):
    from workbench.serving.server import serve

    cert, _ = self_signed(tmp_path)
    with pytest.raises(ValueError, match="both"):
        serve(tmp_path, ssl_certfile=str(cert))

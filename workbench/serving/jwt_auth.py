"""OAuth 2.0 / OIDC bearer tokens (JWTs) from an identity provider, checked with PyJWT.

``workbench serve --jwt-issuer ISS --jwt-audience AUD --jwks-url URL`` (or ``--jwks-file``)
accepts, alongside API keys, a JWT that

* is signed with RS256 or ES256 (nothing else: ``alg: none`` and HMAC are refused) by a key of
  the provider's JWKS (fetched from ``--jwks-url`` and cached by :class:`jwt.PyJWKClient`, or
  read from ``--jwks-file``);
* has ``iss`` = the issuer, ``aud`` containing the audience, an ``exp`` in the future and an
  ``nbf`` (if any) in the past, each with :attr:`JwtConfig.leeway` seconds of clock skew;
* carries a workbench role in the claim ``--jwt-role-claim`` (default ``role``; a dotted path
  such as ``realm_access.roles`` reaches into objects; a list gives the highest role in it)
  and optionally model scopes in ``--jwt-models-claim`` (a list or comma-separated string of
  names or patterns; absent: every model).

A bad token is 401; a good token whose role is too low (or missing) is 403. The holder is
logged as ``jwt:<sub>``. No cryptography here: PyJWT (with ``cryptography``) does it all.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import ApiError
from .key_options import parse_models
from .keys import RANK, ApiKey

#: the only signature algorithms accepted
ALGORITHMS = ("RS256", "ES256")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="workbench", error="invalid_token"'}


@dataclass(frozen=True)
class JwtConfig:
    """How the service checks JWTs (one of ``jwks_url`` / ``jwks_file``)."""

    issuer: str
    audience: str
    jwks_url: str | None = None
    jwks_file: str | None = None
    role_claim: str = "role"
    models_claim: str | None = None
    leeway: float = 30.0

    def __post_init__(self):
        for field_name in ("issuer", "audience"):
            value = getattr(self, field_name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"JWT {field_name} must be a non-empty string, got {value!r}")
        if (self.jwks_url is None) == (self.jwks_file is None):
            raise ValueError("JWT checking needs exactly one of --jwks-url and --jwks-file")
        if self.jwks_url is not None and not self.jwks_url.startswith(("https://", "http://")):
            raise ValueError(f"--jwks-url must be an http(s) URL, got {self.jwks_url!r:.80}")
        if self.jwks_file is not None and not Path(self.jwks_file).is_file():
            raise ValueError(f"JWKS file {self.jwks_file} does not exist")
        if not (isinstance(self.leeway, (int, float)) and 0 <= self.leeway <= 300):
            raise ValueError(f"JWT leeway must be 0-300 seconds, got {self.leeway!r}")

    def to_json(self) -> dict:
        return asdict(self)


def _claim(claims: dict, path: str | None):
    value = claims
    for part in (path or "").split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


class JwtVerifier:
    """Verify bearer JWTs against a :class:`JwtConfig`; :meth:`principal` returns the holder."""

    def __init__(self, config: JwtConfig):
        import jwt      # with cryptography: only a worker that accepts JWTs pays for them (~6 MB)
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        self.config = config
        self._jwt = jwt
        self._key_types = {"RS256": rsa.RSAPublicKey, "ES256": ec.EllipticCurvePublicKey}
        self._client = self._keyset = None
        if config.jwks_url:
            self._client = jwt.PyJWKClient(config.jwks_url, cache_keys=True, lifespan=300,
                                           timeout=10)
        else:
            self._keyset = jwt.PyJWKSet.from_dict(json.loads(Path(config.jwks_file).read_text()))

    def __repr__(self) -> str:
        source = self.config.jwks_url or self.config.jwks_file
        return f"<JwtVerifier iss={self.config.issuer!r} aud={self.config.audience!r} {source}>"

    def warm(self) -> None:
        """Fetch the JWKS now (off the request path); errors are left for the first request."""
        if self._client is not None:
            try:
                self._client.get_signing_keys()
            except self._jwt.PyJWKClientError:
                pass

    @staticmethod
    def looks_like(token: str) -> bool:
        """Whether ``token`` has the shape of a JWT (three dot-separated parts)."""
        return token.count(".") == 2 and not token.startswith("wb_")

    def _signing_key(self, token: str, header: dict):
        jwt = self._jwt
        if self._client is not None:
            try:
                return self._client.get_signing_key_from_jwt(token).key
            except jwt.PyJWKClientConnectionError:
                raise ApiError(503, "the identity provider's keys (JWKS) could not be fetched; "
                                    "retry shortly") from None
            except jwt.PyJWKClientError:
                raise ApiError(401, "token signed with a key the identity provider does not "
                                    "publish", headers=_CHALLENGE) from None
        kid = header.get("kid")
        keys = [k for k in self._keyset.keys if kid is None or k.key_id == kid]
        if len(keys) != 1:
            raise ApiError(401, "token signed with a key the identity provider does not publish",
                           headers=_CHALLENGE)
        return keys[0].key

    def principal(self, token: str) -> ApiKey:
        """Return the holder of a valid ``token``; raise 401 (bad token) or 403 (no role)."""
        jwt, config = self._jwt, self.config
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise ApiError(401, "malformed bearer token", headers=_CHALLENGE) from None
        if header.get("alg") not in ALGORITHMS:
            raise ApiError(401, f"token algorithm must be one of {', '.join(ALGORITHMS)}, got "
                                f"{str(header.get('alg'))[:20]!r}", headers=_CHALLENGE)
        key = self._signing_key(token, header)
        if not isinstance(key, self._key_types[header["alg"]]):
            raise ApiError(401, f"token says {header['alg']} but its key id names a key of another "
                                f"type", headers=_CHALLENGE)
        try:
            claims = jwt.decode(token, key, algorithms=list(ALGORITHMS), audience=config.audience,
                                issuer=config.issuer, leeway=config.leeway,
                                options={"require": ["exp", "iss", "aud"]})
        except jwt.ExpiredSignatureError:
            raise ApiError(401, "token has expired", headers=_CHALLENGE) from None
        except jwt.InvalidAudienceError:
            raise ApiError(401, "token is not meant for this service (audience)",
                           headers=_CHALLENGE) from None
        except jwt.InvalidIssuerError:
            raise ApiError(401, "token comes from another issuer", headers=_CHALLENGE) from None
        except jwt.ImmatureSignatureError:
            raise ApiError(401, "token is not valid yet (nbf)", headers=_CHALLENGE) from None
        except jwt.InvalidSignatureError:
            raise ApiError(401, "token signature does not verify", headers=_CHALLENGE) from None
        except (jwt.PyJWTError, TypeError, ValueError) as exc:    # every other way a token is bad
            raise ApiError(401, f"invalid token: {str(exc)[:120]}", headers=_CHALLENGE) from None
        subject = str(claims.get("sub") or claims.get("client_id") or "unknown")[:64]
        role = self._role(_claim(claims, config.role_claim))
        if role is None:
            raise ApiError(403, f"token of '{subject}' carries no workbench role in claim "
                                f"'{config.role_claim}' (one of {', '.join(RANK)})")
        models = None
        if config.models_claim:
            raw = _claim(claims, config.models_claim)
            try:
                models = None if raw is None else parse_models(raw)
            except (TypeError, ValueError) as exc:
                raise ApiError(403, f"token claim '{config.models_claim}': {exc}") from None
        return ApiKey(id=f"jwt:{subject}", name=subject, role=role,
                      created_at=float(claims.get("iat") or 0), models=models)

    @staticmethod
    def _role(value) -> str | None:
        values = value if isinstance(value, list) else [value]
        known = [v for v in values if isinstance(v, str) and v in RANK]
        return max(known, key=RANK.__getitem__) if known else None

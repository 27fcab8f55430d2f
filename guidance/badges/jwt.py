"""VC-JWT: an Open Badges 3.0 credential as a compact JWS signed with RS256.

Follows the JSON Web Token Proof Format of Open Badges 3.0 (section 8.2), which narrows
VC-JOSE-COSE:

- JOSE header: ``alg`` ``RS256`` (the spec's required minimum; no other algorithm is accepted),
  ``typ`` ``JWT``, and ``kid`` (a URI naming the public key) or ``jwk`` (the public key itself,
  never with ``d``); no other header is allowed. When verifying, ``typ`` may also be ``vc+jwt``
  (VC-JOSE-COSE's suggestion) or absent.
- JWT payload: the credential itself as the claims set (the VC Data Model 2.0 form that
  VC-JOSE-COSE requires, so no ``vc`` claim: VC 1.1 ``vc``-claim tokens are refused), plus the
  registered claims ``iss`` = ``issuer.id``, ``jti`` = ``id``, ``nbf`` = ``validFrom``,
  ``exp`` = ``validUntil`` (when present) and ``sub`` = ``credentialSubject.id``. OB 3.0 marks
  ``sub`` required, but a Zapcat badge names its learner by a salted hash (``identifier``), not by
  an ``id``: ``sub`` is then left out, and a verifier requires it exactly when the subject has an
  ``id``.

Verification checks the signature (PyJWT), that every claim agrees with the credential
(``claim_mismatch``), the validity dates and the status (as :func:`~guidance.badges.verify.
verify_credential` does). Keys are never fetched: ``keys`` maps the header to a trusted RSA key,
see :func:`trusted_keys`.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from jwt.algorithms import RSAAlgorithm

from guidance.badges.checks import Resolver, StatusResolver, check_proof, issuer_id, parse_time
from guidance.badges.errors import BadgeError
from guidance.badges.multikey import public_from_did_key
from guidance.badges.verify import finish, new_result

ALGORITHM = "RS256"
HEADERS = frozenset({"alg", "typ", "kid", "jwk"})
TYPES = ("JWT", "vc+jwt")
CLAIMS = ("iss", "jti", "nbf", "exp", "sub")
MIN_RSA_BITS = 2048
KeyResolver = Callable[[dict[str, Any], str], RSAPublicKey]
"""(JOSE header, unverified ``iss``) -> the trusted RSA public key; raises ``BadgeError``
(``unresolvable_key``) for a key it does not trust."""


def _numeric_date(value: str, field: str) -> int:
    return math.floor(parse_time(value, field).timestamp())


def _claims(credential: dict[str, Any]) -> dict[str, Any]:
    """The registered claims OB 3.0 derives from the credential."""
    if not isinstance(credential.get("id"), str):
        raise BadgeError("invalid_badge", "the credential needs an 'id' (it becomes the jti)")
    claims: dict[str, Any] = {
        "iss": issuer_id(credential),
        "jti": credential["id"],
        "nbf": _numeric_date(credential.get("validFrom"), "validFrom"),
    }
    if "validUntil" in credential:
        claims["exp"] = _numeric_date(credential["validUntil"], "validUntil")
    subject = credential.get("credentialSubject")
    if isinstance(subject, dict) and "id" in subject:
        claims["sub"] = subject["id"]
    return claims


def public_jwk(key: RSAPublicKey, kid: str | None = None) -> dict[str, Any]:
    """The JWK (``kty``, ``n``, ``e``; and ``kid`` when given) of an RSA public key."""
    full = json.loads(RSAAlgorithm.to_jwk(key))
    jwk = {name: full[name] for name in ("kty", "n", "e")}
    return {**jwk, "kid": kid} if kid else jwk


def sign_jwt(
    credential: dict[str, Any],
    key: RSAPrivateKey,
    *,
    kid: str | None = None,
    include_jwk: bool = False,
) -> str:
    """Sign ``credential`` as a compact JWS (RS256).

    Parameters
    ----------
    credential : dict
        The credential (``id``, ``issuer``, ``validFrom`` required; an embedded ``proof`` may be
        present, it is then covered by the JWS too).
    key : RSAPrivateKey
        The issuer's RSA key, at least 2048 bits.
    kid : str, optional
        URI of the public key (for example ``did:web:example.org#rsa-1``).
    include_jwk : bool
        Put the public key in the ``jwk`` header. At least one of ``kid`` / ``jwk`` is required.

    Returns
    -------
    str
        ``header.payload.signature`` (base64url parts).

    Examples
    --------
    >>> from cryptography.hazmat.primitives.asymmetric import rsa
    >>> key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    >>> badge = {"@context": ["https://www.w3.org/ns/credentials/v2"], "id": "urn:uuid:1",
    ...          "type": ["VerifiableCredential"], "issuer": "did:web:example.org",
    ...          "validFrom": "2026-01-01T00:00:00Z", "credentialSubject": {"name": "A"}}
    >>> token = sign_jwt(badge, key, kid="did:web:example.org#rsa-1")
    >>> verify_jwt(token, keys=trusted_keys([key.public_key()]))["checks"]
    {'proof': 'ok', 'validity': 'ok', 'status': 'not_applicable'}
    """
    if not isinstance(key, RSAPrivateKey):
        raise BadgeError("invalid_key", f"RS256 needs an RSA private key, got {type(key).__name__}")
    if key.key_size < MIN_RSA_BITS:
        raise BadgeError("invalid_key", f"RSA key of {key.key_size} bits; use {MIN_RSA_BITS}+")
    if not kid and not include_jwk:
        raise BadgeError("invalid_key", "a VC-JWT names its key: give kid, include_jwk or both")
    if not isinstance(credential, dict):
        raise BadgeError("invalid_badge", "a credential is a JSON object")
    if "vc" in credential or any(c in credential for c in CLAIMS):
        raise BadgeError("invalid_badge", "the credential already has JWT claims; sign it bare")
    payload = {**copy.deepcopy(credential), **_claims(credential)}
    headers: dict[str, Any] = {"typ": "JWT"}
    if kid:
        headers["kid"] = kid
    if include_jwk:
        headers["jwk"] = public_jwk(key.public_key())
    return pyjwt.encode(payload, key, algorithm=ALGORITHM, headers=headers)


def trusted_keys(keys: Iterable[RSAPublicKey | dict[str, Any]]) -> KeyResolver:
    """A :data:`KeyResolver` over keys the caller trusts (RSA public keys or JWKs with ``kid``).

    A token's key is the trusted JWK with the token's ``kid``, else the trusted key equal
    (``n``, ``e``) to its ``jwk`` header, else the one trusted key given without a ``kid`` (the
    caller's word that it is the issuer's). A key that arrives only inside the token is never
    trusted by itself: anyone can sign with a key of their own.
    """
    by_kid: dict[str, RSAPublicKey] = {}
    by_value: dict[tuple[str, str], RSAPublicKey] = {}
    unnamed: list[RSAPublicKey] = []
    for pos, item in enumerate(keys):
        if isinstance(item, dict):
            public = _load_jwk(item, f"trusted key {pos}")
            if isinstance(item.get("kid"), str):
                by_kid[item["kid"]] = public
            else:
                unnamed.append(public)
        elif isinstance(item, RSAPublicKey):
            public = item
            unnamed.append(public)
        else:
            raise BadgeError("invalid_key", f"trusted key {pos}: an RSA public key or a JWK")
        jwk = public_jwk(public)
        by_value[(jwk["n"], jwk["e"])] = public

    def resolve(header: dict[str, Any], iss: str) -> RSAPublicKey:
        if isinstance(header.get("kid"), str) and header["kid"] in by_kid:
            return by_kid[header["kid"]]
        if isinstance(header.get("jwk"), dict):
            found = by_value.get((header["jwk"].get("n"), header["jwk"].get("e")))
            if found is not None:
                return found
        if len(unnamed) == 1:
            return unnamed[0]
        raise BadgeError(
            "unresolvable_key",
            f"the JWT's key (kid {header.get('kid')!r}) is not a trusted key of {iss!r}: "
            "supply the issuer's public key (a JWK or PEM) to verify it",
        )

    return resolve


def _load_jwk(jwk: dict[str, Any], where: str) -> RSAPublicKey:
    if "d" in jwk:
        raise BadgeError("invalid_key", f"{where} is a private key (it has 'd'); give the public")
    try:
        key = RSAAlgorithm.from_jwk(json.dumps(jwk))
    except (pyjwt.exceptions.InvalidKeyError, ValueError, TypeError, KeyError) as exc:
        raise BadgeError("invalid_key", f"{where} is not an RSA JWK ({exc})") from exc
    if not isinstance(key, RSAPublicKey):  # pragma: no cover - 'd' refused above
        raise BadgeError("invalid_key", f"{where} is not an RSA public key")
    return key


def _header(token: Any) -> dict[str, Any]:
    if not isinstance(token, str) or token.count(".") != 2:
        raise BadgeError("invalid_jwt", "a VC-JWT is a compact JWS: three base64url parts")
    try:
        header = pyjwt.get_unverified_header(token)
    except pyjwt.exceptions.DecodeError as exc:
        raise BadgeError("invalid_jwt", f"the JOSE header cannot be read ({exc})") from exc
    extra = sorted(set(header) - HEADERS)
    if extra:
        raise BadgeError("invalid_jwt", f"JOSE headers {extra} are not allowed (OB 3.0 8.2.3)")
    if header.get("alg") != ALGORITHM:
        raise BadgeError("invalid_jwt", f"alg must be {ALGORITHM}, got {header.get('alg')!r}")
    if "typ" in header and header["typ"] not in TYPES:
        raise BadgeError("invalid_jwt", f"typ must be 'JWT', got {header['typ']!r}")
    if "kid" not in header and "jwk" not in header:
        raise BadgeError("invalid_jwt", "the JOSE header names no key (kid or jwk required)")
    if isinstance(header.get("jwk"), dict) and "d" in header["jwk"]:
        raise BadgeError("invalid_jwt", "the jwk header holds a private key ('d')")
    return header


def unverified_payload(token: str) -> dict[str, Any]:
    """The payload of a compact JWS, NOT verified (to route it, e.g. a status list by its id)."""
    _header(token)
    try:
        payload = pyjwt.decode(token, options={"verify_signature": False})
    except pyjwt.exceptions.DecodeError as exc:
        raise BadgeError("invalid_jwt", f"the JWT payload is not JSON ({exc})") from exc
    return payload


def decode_jwt(token: str, keys: KeyResolver) -> dict[str, Any]:
    """The credential of a VC-JWT after its signature and claims are checked.

    Raises
    ------
    BadgeError
        ``invalid_jwt``, ``unresolvable_key``, ``bad_signature``, ``claim_mismatch``.
    """
    header = _header(token)
    iss = unverified_payload(token).get("iss")
    if not isinstance(iss, str):
        raise BadgeError("invalid_jwt", "the JWT has no iss claim (the issuer's id)")
    key = keys(header, iss)
    options = {"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False,
               "verify_iss": False, "verify_jti": False, "verify_sub": False}  # fmt: skip
    try:
        payload = pyjwt.decode(token, key, algorithms=[ALGORITHM], options=options)
    except pyjwt.exceptions.InvalidSignatureError as exc:
        raise BadgeError(
            "bad_signature", "the JWS signature does not match: the token was changed after "
            "signing, or it was signed by another key",
        ) from exc  # fmt: skip
    except pyjwt.exceptions.PyJWTError as exc:
        raise BadgeError("invalid_jwt", f"the JWT does not verify ({exc})") from exc
    if "vc" in payload:
        raise BadgeError(
            "invalid_jwt", "a VC Data Model 1.1 'vc' claim: only VC 2.0 payloads (the credential "
            "as the claims set, OB 3.0 / VC-JOSE-COSE) are read",
        )  # fmt: skip
    credential = {k: v for k, v in payload.items() if k not in CLAIMS}
    expected = _claims(credential)
    for name in CLAIMS:
        if payload.get(name) != expected.get(name):
            raise BadgeError(
                "claim_mismatch",
                f"JWT claim {name} is {payload.get(name)!r}, the credential gives "
                f"{expected.get(name)!r}",
            )
    return credential


def verify_jwt(
    token: str,
    *,
    keys: KeyResolver,
    now: datetime | None = None,
    resolve: Resolver = public_from_did_key,
    status_resolver: StatusResolver | None = None,
    require_status: bool = False,
) -> dict[str, Any]:
    """Verify a VC-JWT offline: signature, claims, validity dates, status.

    Parameters
    ----------
    token : str
        The compact JWS.
    keys : callable
        Trusted RSA keys (:func:`trusted_keys`); also used for status lists sent as JWTs.
    now : datetime, optional
        Time of the date checks (default now, UTC).
    resolve : callable
        Ed25519 keys, for status list credentials secured with a Data Integrity proof.
    status_resolver, require_status
        As in :func:`guidance.badges.verify.verify_credential`.

    Returns
    -------
    dict
        The result of :func:`guidance.badges.verify.verify_credential` (``checks.proof`` is the
        JWS signature and claims).
    """
    now = now or datetime.now(UTC)
    result = new_result()
    try:
        credential = decode_jwt(token, keys)
        result["checks"]["proof"] = "ok"
    except BadgeError as exc:
        result["errors"].append({"code": exc.code, "message": exc.message})
        result["checks"]["validity"] = "not_checked"  # nothing in an unverified token is trusted
        return result

    def verify_list(document: Any) -> dict[str, Any]:
        if isinstance(document, str):
            return decode_jwt(document, keys)
        if not isinstance(document, dict):
            raise BadgeError("invalid_badge", "a status list is a JSON object or a compact JWT")
        check_proof(document, resolve)
        return document

    return finish(
        result, credential, now=now, status_resolver=status_resolver, verify_list=verify_list,
        require_status=require_status,
    )  # fmt: skip

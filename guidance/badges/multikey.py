"""Ed25519 keys as Multikey (multibase base58-btc + multicodec) and ``did:key`` identifiers.

The encoding is the one of W3C Controlled Identifiers / Data Integrity EdDSA: a public key is
``z`` + base58btc(0xed 0x01 + 32 bytes), a secret key ``z`` + base58btc(0x80 0x26 + 32-byte seed).
Base58-btc is the 20-line Bitcoin alphabet codec below (no library is needed for it).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from guidance.badges.errors import BadgeError

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
ED25519_PUB = b"\xed\x01"
ED25519_PRIV = b"\x80\x26"


def b58encode(data: bytes) -> str:
    """Base58-btc encoding of ``data`` (leading zero bytes become ``1``)."""
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_ALPHABET[r])
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    """Inverse of :func:`b58encode`; a character outside the alphabet raises ``BadgeError``."""
    n = 0
    for pos, ch in enumerate(text):
        if ch not in _INDEX:
            raise BadgeError(
                "invalid_multibase", f"character {ch!r} at position {pos} is not base58-btc"
            )
        n = n * 58 + _INDEX[ch]
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    pad = len(text) - len(text.lstrip("1"))
    return b"\0" * pad + body


def _multibase_decode(value: str, prefix: bytes, what: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("z"):
        raise BadgeError("invalid_key", f"{what} must be a base58-btc multibase string ('z...')")
    raw = b58decode(value[1:])
    if not raw.startswith(prefix) or len(raw) < len(prefix) + 32:
        raise BadgeError(
            "invalid_key", f"{what} is not an Ed25519 multikey (prefix {prefix.hex()})"
        )
    return raw[len(prefix) : len(prefix) + 32]


def public_multibase(key: Ed25519PublicKey) -> str:
    """``publicKeyMultibase`` of an Ed25519 public key."""
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "z" + b58encode(ED25519_PUB + raw)


def secret_multibase(key: Ed25519PrivateKey) -> str:
    """``secretKeyMultibase`` of an Ed25519 private key (the 32-byte seed)."""
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return "z" + b58encode(ED25519_PRIV + raw)


def load_public(multibase: str) -> Ed25519PublicKey:
    """Ed25519 public key from its ``publicKeyMultibase``."""
    return Ed25519PublicKey.from_public_bytes(
        _multibase_decode(multibase, ED25519_PUB, "publicKeyMultibase")
    )


def load_secret(multibase: str) -> Ed25519PrivateKey:
    """Ed25519 private key from its ``secretKeyMultibase``."""
    return Ed25519PrivateKey.from_private_bytes(
        _multibase_decode(multibase, ED25519_PRIV, "secretKeyMultibase")
    )


def did_key(public_key_multibase: str) -> str:
    """The ``did:key`` of a public key: ``did:key:<publicKeyMultibase>``."""
    return f"did:key:{public_key_multibase}"


def did_key_method(public_key_multibase: str) -> str:
    """The verification method id of a ``did:key``: ``did:key:z6Mk...#z6Mk...``."""
    return f"did:key:{public_key_multibase}#{public_key_multibase}"


def public_from_did_key(method: str) -> Ed25519PublicKey:
    """Resolve a ``did:key`` verification method (offline: the key is in the identifier)."""
    if not method.startswith("did:key:"):
        raise BadgeError("unresolvable_key", f"{method!r} is not a did:key")
    body = method[len("did:key:") :]
    did_part, _, fragment = body.partition("#")
    if fragment and fragment != did_part:
        raise BadgeError("unresolvable_key", f"{method!r}: fragment differs from the key")
    return load_public(did_part)

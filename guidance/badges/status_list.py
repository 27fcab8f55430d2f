"""W3C Bitstring Status List v1.0: the revocation bitstring, its entry and its credential.

A status list is a bitstring, one bit per issued credential, published inside a
``BitstringStatusListCredential``; a credential points at its bit with a
``BitstringStatusListEntry`` (``credentialStatus``). The encoding follows the Recommendation
(https://www.w3.org/TR/vc-bitstring-status-list/, sections 2.2 and 3): index 0 is the left-most
(most significant) bit of the first byte; ``encodedList`` is the multibase base64url (prefix ``u``,
no padding) of the GZIP-compressed bitstring; the uncompressed bitstring is at least 16 KB, that is
131,072 entries (the group-privacy minimum of the validate algorithm). Statuses are one bit wide
(``statusSize`` 1): purposes ``revocation``, ``suspension`` and ``refresh``; ``message`` lists,
which need wider statuses, are not supported.

GZIP runs at level 6 with a zero modification time, so the same bits always give the same
``encodedList`` (the spec's example and Digital Bazaar's reference library produce these bytes).
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from datetime import UTC, datetime
from typing import Any

from guidance.badges.contexts import OB_V3, VC_V2
from guidance.badges.errors import BadgeError

MIN_LENGTH = 131_072
"""Minimum number of entries of a list (16 KB of one-bit statuses), per the spec."""
MAX_BYTES = 16 * 1024 * 1024
"""Largest uncompressed bitstring :meth:`BitstringStatusList.decode` accepts (a GZIP-bomb guard)."""
PURPOSES = ("revocation", "suspension", "refresh")
"""The one-bit status purposes this module supports."""

_GZIP_MAGIC = b"\x1f\x8b"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


class BitstringStatusList:
    """A bitstring of one-bit statuses (``True`` = set: revoked, suspended, ...).

    Parameters
    ----------
    length : int
        Number of entries, a multiple of 8, at least ``minimum_length``
        (default 131,072 = 16 KB).
    minimum_length : int
        The lower bound to enforce; the spec's 131,072 unless an ecosystem sets another.

    Examples
    --------
    >>> bits = BitstringStatusList()
    >>> bits.set(94567, True)
    >>> BitstringStatusList.decode(bits.encode()).get(94567)
    True
    """

    __slots__ = ("_bytes",)

    def __init__(self, length: int = MIN_LENGTH, *, minimum_length: int = MIN_LENGTH) -> None:
        _check_length(length, minimum_length)
        self._bytes = bytearray(length // 8)

    @property
    def length(self) -> int:
        """Number of entries (bits)."""
        return len(self._bytes) * 8

    def __len__(self) -> int:
        return self.length

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BitstringStatusList):
            return NotImplemented
        return self._bytes == other._bytes

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        return f"BitstringStatusList(length={self.length}, set={self.count()})"

    def _position(self, index: Any) -> tuple[int, int]:
        if isinstance(index, bool) or not isinstance(index, int):
            raise BadgeError(
                "invalid_status_index", f"status list index must be an integer, got {index!r}"
            )
        if not 0 <= index < self.length:
            raise BadgeError(
                "status_index_out_of_range",
                f"status list index {index} is outside the list (0 .. {self.length - 1})",
            )
        return index // 8, 7 - index % 8

    def get(self, index: int) -> bool:
        """Whether the status at ``index`` (0 .. length - 1) is set."""
        byte, shift = self._position(index)
        return bool(self._bytes[byte] >> shift & 1)

    def set(self, index: int, value: bool) -> None:
        """Set (``True``) or clear (``False``) the status at ``index`` (0 .. length - 1)."""
        if not isinstance(value, bool | int) or value not in (0, 1):
            raise BadgeError("invalid_status_value", f"a status is True or False, got {value!r}")
        byte, shift = self._position(index)
        if value:
            self._bytes[byte] |= 1 << shift
        else:
            self._bytes[byte] &= ~(1 << shift) & 0xFF

    def count(self) -> int:
        """Number of set statuses."""
        return sum(bin(b).count("1") for b in self._bytes if b)

    def set_indices(self) -> list[int]:
        """The indices whose status is set, ascending."""
        return [
            8 * i + bit for i, b in enumerate(self._bytes) if b
            for bit in range(8) if b >> (7 - bit) & 1
        ]  # fmt: skip

    def to_bytes(self) -> bytes:
        """The uncompressed bitstring (``length / 8`` bytes, index 0 = MSB of byte 0)."""
        return bytes(self._bytes)

    @classmethod
    def from_bytes(cls, data: bytes, *, minimum_length: int = MIN_LENGTH) -> BitstringStatusList:
        """Inverse of :meth:`to_bytes`."""
        if not isinstance(data, bytes | bytearray):
            raise BadgeError("invalid_status_list", f"a bitstring is bytes, got {type(data)}")
        _check_length(len(data) * 8, minimum_length)
        out = cls.__new__(cls)
        out._bytes = bytearray(data)
        return out

    def encode(self) -> str:
        """``encodedList``: ``'u'`` + base64url (no padding) of the GZIP-compressed bitstring."""
        compressed = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: GZIP wrapper, mtime 0
        data = compressed.compress(bytes(self._bytes)) + compressed.flush()
        return "u" + base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(
        cls, encoded: str, *, minimum_length: int = MIN_LENGTH, max_bytes: int = MAX_BYTES
    ) -> BitstringStatusList:
        """Read an ``encodedList`` (the spec's Bitstring Expansion Algorithm, validated).

        Parameters
        ----------
        encoded : str
            ``'u'`` + base64url, no padding, of a GZIP stream.
        minimum_length : int
            Fewest entries accepted (default 131,072, the spec's minimum).
        max_bytes : int
            Largest uncompressed bitstring accepted (default 16 MiB).

        Raises
        ------
        BadgeError
            ``invalid_status_list`` (malformed: not ``u``-multibase, not base64url, padded, not
            GZIP, truncated, trailing bytes, too large) or ``status_list_too_short`` (fewer
            entries than ``minimum_length``: the spec's STATUS_LIST_LENGTH_ERROR).
        """
        if not isinstance(encoded, str):
            raise BadgeError(
                "invalid_status_list", f"encodedList must be a string, got {encoded!r}"
            )
        if not encoded.startswith("u"):
            raise BadgeError(
                "invalid_status_list",
                f"encodedList must be multibase base64url, starting with 'u'; got {encoded[:12]!r}",
            )
        body = encoded[1:]
        bad = _BASE64URL.fullmatch(body) is None
        if bad or len(body) % 4 == 1:
            where = next((i + 1 for i, c in enumerate(body) if not _BASE64URL.fullmatch(c)), None)
            detail = (
                f"character {encoded[where]!r} at position {where} is not base64url"
                + (" (the spec forbids '=' padding)" if encoded[where] == "=" else "")
                if where is not None
                else f"{len(body)} characters is not a possible base64url length"
            )
            raise BadgeError("invalid_status_list", f"encodedList: {detail}")
        try:
            data = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError) as exc:  # pragma: no cover - the regex catches these
            raise BadgeError("invalid_status_list", f"encodedList is not base64url: {exc}") from exc
        if not data.startswith(_GZIP_MAGIC):
            raise BadgeError(
                "invalid_status_list",
                "encodedList does not hold a GZIP stream (it must start with bytes 1f 8b)",
            )
        inflater = zlib.decompressobj(31)
        try:
            bits = inflater.decompress(data, max_bytes + 1)
        except zlib.error as exc:
            raise BadgeError("invalid_status_list", f"encodedList: bad GZIP data ({exc})") from exc
        if len(bits) > max_bytes:
            raise BadgeError(
                "invalid_status_list",
                f"encodedList expands to more than {max_bytes} bytes (limit max_bytes)",
            )
        if not inflater.eof or inflater.unused_data:
            raise BadgeError(
                "invalid_status_list",
                "encodedList: the GZIP stream is truncated"
                if not inflater.eof
                else f"encodedList: {len(inflater.unused_data)} bytes after the GZIP stream",
            )
        return cls.from_bytes(bits, minimum_length=minimum_length)


def _check_length(length: Any, minimum_length: int) -> None:
    if isinstance(length, bool) or not isinstance(length, int) or length <= 0 or length % 8:
        raise BadgeError(
            "invalid_status_list",
            f"status list length must be a positive multiple of 8, got {length!r}",
        )
    if length < minimum_length:
        raise BadgeError(
            "status_list_too_short",
            f"status list has {length} entries, fewer than the minimum {minimum_length} "
            "(Bitstring Status List v1.0: 131,072 entries, 16 KB, for group privacy)",
        )


def _check_url(value: Any, field: str) -> str:
    if not isinstance(value, str) or not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", value):
        raise BadgeError("invalid_status_list", f"{field} must be an absolute URL, got {value!r}")
    if "#" in value:
        raise BadgeError(
            "invalid_status_list", f"{field} {value!r} must not have a fragment ('#...')"
        )
    return value


def _check_purpose(purpose: Any) -> str:
    if purpose not in PURPOSES:
        raise BadgeError(
            "invalid_status_purpose",
            f"statusPurpose {purpose!r} is not supported; use one of {', '.join(PURPOSES)}",
        )
    return purpose


def status_list_entry(list_url: str, index: int, purpose: str = "revocation") -> dict[str, Any]:
    """The ``credentialStatus`` of a credential whose status is bit ``index`` of a list.

    Parameters
    ----------
    list_url : str
        URL of the ``BitstringStatusListCredential`` (absolute, no fragment).
    index : int
        The credential's position in the list, ``>= 0`` (assign them at random, per the spec).
    purpose : str
        ``revocation`` (default), ``suspension`` or ``refresh``.

    Returns
    -------
    dict
        ``{"id": "<list_url>#<index>", "type": "BitstringStatusListEntry", "statusPurpose",
        "statusListIndex": "<index>" (a base-10 string), "statusListCredential": list_url}``.

    Examples
    --------
    >>> status_list_entry("https://example.com/status/3", 94567)["statusListIndex"]
    '94567'
    """
    _check_url(list_url, "statusListCredential")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise BadgeError(
            "invalid_status_index", f"statusListIndex must be an integer >= 0, got {index!r}"
        )
    return {
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": _check_purpose(purpose),
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def xsd_datetime(value: datetime, field: str = "validFrom") -> str:
    """``value`` as an XML Schema dateTime in UTC with seconds.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> xsd_datetime(datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))))
    '2026-01-01T00:00:00Z'
    """
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise BadgeError(
            "invalid_badge", f"{field} must be a timezone-aware datetime, got {value!r}"
        )
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_list_credential(
    issuer: str | dict[str, Any],
    list_url: str,
    bits: BitstringStatusList,
    valid_from: datetime,
    *,
    valid_until: datetime | None = None,
    purpose: str = "revocation",
) -> dict[str, Any]:
    """The unsigned ``BitstringStatusListCredential`` publishing ``bits`` at ``list_url``.

    Parameters
    ----------
    issuer : str or dict
        The issuer's id (a DID or URL), or its profile ``{"id": ..., "type": ["Profile"], ...}``
        (then the Open Badges 3.0 context is added so that the profile's terms are defined).
        Use the issuer of the credentials whose statuses the list holds: verification requires it.
    list_url : str
        Where the credential is published; also its ``id``.
    bits : BitstringStatusList
        The statuses.
    valid_from, valid_until : datetime
        Validity period of this version of the list (timezone-aware).
    purpose : str
        ``statusPurpose`` of the list (the entries pointing at it must use the same).

    Returns
    -------
    dict
        A VC Data Model 2.0 credential, to be signed (for example with
        :func:`guidance.badges.proof.sign`).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> doc = status_list_credential("did:example:1", "https://example.com/status/3",
    ...                              BitstringStatusList(), datetime(2026, 1, 1, tzinfo=UTC))
    >>> doc["credentialSubject"]["type"], doc["validFrom"]
    ('BitstringStatusList', '2026-01-01T00:00:00Z')
    """
    _check_url(list_url, "list_url")
    if isinstance(issuer, dict):
        if not isinstance(issuer.get("id"), str):
            raise BadgeError("invalid_badge", "issuer profile needs an 'id' (a DID or URL)")
    elif not isinstance(issuer, str) or not issuer:
        raise BadgeError("invalid_badge", f"issuer must be an id or a profile, got {issuer!r}")
    if not isinstance(bits, BitstringStatusList):
        raise BadgeError("invalid_status_list", f"bits must be a BitstringStatusList, got {bits!r}")
    credential: dict[str, Any] = {
        "@context": [VC_V2, OB_V3] if isinstance(issuer, dict) else [VC_V2],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": xsd_datetime(valid_from, "validFrom"),
    }
    if valid_until is not None:
        credential["validUntil"] = xsd_datetime(valid_until, "validUntil")
        if credential["validUntil"] <= credential["validFrom"]:
            raise BadgeError("invalid_badge", "validUntil must be later than validFrom")
    credential["credentialSubject"] = {
        "id": f"{list_url}#list",
        "type": "BitstringStatusList",
        "statusPurpose": _check_purpose(purpose),
        "encodedList": bits.encode(),
    }
    return credential

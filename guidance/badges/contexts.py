"""The bundled JSON-LD contexts and a PyLD document loader that never touches the network."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from guidance.badges.errors import BadgeError

VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
_DIR = Path(__file__).with_name("contexts")
_FILES = {VC_V2: "credentials-v2.json", OB_V3: "ob-v3p0-context-3.0.3.json"}


@cache
def _context(url: str) -> dict[str, Any]:
    return json.loads((_DIR / _FILES[url]).read_text(encoding="utf-8"))


def bundled_urls() -> list[str]:
    """The context URLs that are bundled (the only ones a badge may use)."""
    return sorted(_FILES)


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """PyLD document loader over the bundled contexts; any other URL is refused.

    Raises
    ------
    BadgeError
        ``unknown_context`` for a URL that is not bundled (nothing is ever fetched).
    """
    if url not in _FILES:
        raise BadgeError(
            "unknown_context",
            f"JSON-LD context {url!r} is not bundled (bundled: {', '.join(bundled_urls())}); "
            "Zapcat verifies offline and never fetches a context",
        )
    return {"contextUrl": None, "documentUrl": url, "document": _context(url)}

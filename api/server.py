"""uvicorn glue: the HTTP protocol class used by ``zapcat serve``.

With ``--workers N`` uvicorn binds the listening socket itself with
``socket.socket(family)``, whose ``proto`` is 0; asyncio then does not set
``TCP_NODELAY`` on accepted connections (it only does for ``proto == IPPROTO_TCP``),
and every keep-alive response waits for the client's delayed ACK: about 40 ms per
request. :class:`NoDelayH11Protocol` sets ``TCP_NODELAY`` on every connection.
Use it with ``uvicorn --http api.server:NoDelayH11Protocol``.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol

HTTP_PROTOCOL = "api.server:NoDelayH11Protocol"
"""Value of uvicorn's ``http`` option."""


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with ``TCP_NODELAY`` set on each TCP connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # pragma: no cover - not a TCP socket after all
                pass
        super().connection_made(transport)

"""The app's front door: only its own Host and Origin get in, and request bodies have a size cap.

A page on another site cannot drive the app (a cross-site post carries that site's Origin), and a
DNS-rebinding page reaches it under a foreign Host name; both are refused before any handler runs.
"""

from __future__ import annotations

import socket
from html import escape
from collections.abc import Iterable

from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024 * 1024  # a 30-minute 16 kHz WAV fits; anything bigger is refused


def own_hosts(host: str, port: int) -> set[str]:
    """The Host values under which the app is itself: its address and the loopback names, with the
    port (served on every address: also this computer's name and addresses)."""
    names = {host, "127.0.0.1", "localhost", "[::1]"}
    if host in ("0.0.0.0", "::"):
        name = socket.gethostname()
        try:
            names |= {name, *(info[4][0] for info in socket.getaddrinfo(name, None))}
        except socket.gaierror:
            names.add(name)
    if ":" in host and not host.startswith("["):
        names.add(f"[{host}]")
    return {f"{name}:{port}" for name in names}


class Guard:
    """ASGI middleware: foreign Host or Origin → 403; a body over the cap → 413."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str], max_body: int = MAX_BODY_BYTES, caps: dict[str, tuple[int, str]] | None = None):
        """`caps`: a smaller cap and its refusal for some paths (path → (bytes, message))."""
        self.app = app
        self.hosts = set(hosts)
        self.origins = {f"http://{h}" for h in self.hosts}
        self.max_body = max_body
        self.too_large = f"That file is too large (the limit is {max_body / 2**20:g} MB)."
        self.caps = caps or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if headers.get("host") not in self.hosts:
            await _refuse(403, "This address is not the voicedrill app's own (open the link the app printed).", scope, receive, send)
            return
        origin = headers.get("origin")
        if origin is not None and origin not in self.origins:
            await _refuse(403, "Requests from other sites are not accepted.", scope, receive, send)
            return
        cap, too_large = self.caps.get(scope["path"], (self.max_body, self.too_large))
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > cap:
            await _refuse(413, too_large, scope, receive, send)
            return
        await self._counted(scope, receive, send, cap, too_large)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, cap: int, too_large: str) -> None:
        """Pass the request on; a body sent without a length that outgrows the cap stops the
        handler reading it with a 413."""
        seen = 0

        async def counting() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > cap:
                raise HTTPException(413, too_large)
            return message

        await self.app(scope, counting, send)


async def _refuse(status: int, text: str, scope: Scope, receive: Receive, send: Send) -> None:
    """The refusal as the app's other refusals look: JSON for /api, a small page for a browser."""
    if scope["path"].startswith("/api/"):
        response = JSONResponse({"error": text}, status_code=status)
    else:
        page = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>voicedrill</title>"
                f"<link rel=stylesheet href=/static/app.css></head><body><main><h1>That didn't work</h1>"
                f"<p class=problem role=alert>{escape(text)}</p><p><a href=/>Back to voicedrill</a></p></main></body></html>")
        response = HTMLResponse(page, status_code=status)
    await response(scope, receive, send)

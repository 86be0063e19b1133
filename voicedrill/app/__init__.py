"""`voicedrill app`: the local web app a sales rep opens instead of a terminal."""

from __future__ import annotations

import asyncio
import ipaddress
import signal
import socket
import threading
import webbrowser
from collections.abc import Callable

from ..drills import load_drill
from ..errors import VoicedrillError
from ..stopping import redirect_hung_up
from ..teamdb import HURRY_S
from .runs import AppConfig


WIND_DOWN_S = 40.0  # a rep under way when the app stops is kept within this (a locked history waits 10 s, a team server 15 s past the lock)


def serve(config: AppConfig, host: str, port: int, browser: bool, say: Callable[[str], None]) -> None:
    """Load the engine, bind, print the address, open the browser and serve until Ctrl-C."""
    import uvicorn

    from .server import App, asgi

    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    app = App(config)
    say(f"speech recogniser: {app.practice.engine(load_drill('hard-close')).description}")  # loaded once, before the first rep
    if not _loopback(host):
        say(f"warning: serving on {host}: anyone who can reach this computer on port {bound} can use the app and see your reps")
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else _url_host(host)}:{bound}/"
    say(f"voicedrill app: {url}   (Ctrl-C to stop)")
    if browser:
        threading.Timer(0.3, webbrowser.open, [url]).start()
    class Server(uvicorn.Server):
        """uvicorn, stopping in order: the rep under way kept first (its thread went with the
        process), then the pages' live event streams ended (cut after the graceful second, they
        printed a traceback on every Ctrl-C with the app open)."""

        def handle_exit(self, sig: int, frame) -> None:
            redirect_hung_up(sig)  # (the terminal closed: what is still said goes nowhere)
            super().handle_exit(sig, frame)

        async def shutdown(self, sockets=None) -> None:
            if app.practice.running() or app.practice.busy():
                say("voicedrill app: keeping the rep under way before stopping…")
                if not await asyncio.to_thread(app.practice.wind_down, WIND_DOWN_S):
                    say(f"voicedrill app: the rep under way was not kept within {WIND_DOWN_S:g} s")
                elif app.practice.outcome:  # where it went: a team server that went quiet keeps it in a pending file
                    say(f"voicedrill app: {app.practice.outcome}")
            app.practice.broadcast.close()
            await app.wind_down_pages(HURRY_S + 1.0)
            await super().shutdown(sockets)

    # uvicorn's graceful stop on SIGHUP (the terminal closed) too, as on Ctrl-C and SIGTERM: raised in
    # its loop, it lost the rep being kept and answered its check a bare 500 (found by a fault attack)
    uvicorn.server.HANDLED_SIGNALS = (*uvicorn.server.HANDLED_SIGNALS, signal.SIGHUP)
    server = Server(uvicorn.Config(asgi(app, host, bound), log_level="warning", lifespan="off", timeout_graceful_shutdown=1))
    server.run(sockets=[sock])


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one), or one line saying why not."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(64)
    except socket.gaierror:
        raise VoicedrillError(f"--host {host}: no such address on this computer") from None
    except OSError as exc:
        taken = port and exc.errno in (98, 48)  # EADDRINUSE on Linux, macOS
        raise VoicedrillError(f"port {port} is already in use; pick another with --port, or leave it out for a free one" if taken
                              else f"cannot serve on {host}:{port} ({exc.strerror})") from None
    return sock


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host

"""The read-only web page of ``sign-recognize --serve``: Starlette routes, served by uvicorn on its own thread.

Routes (all GET; anything else is 405, nothing changes settings or writes a file):

- ``/``: the page (``static/index.html``), with a Content-Security-Policy that
  allows only its own inline script and style (by hash) and this server.
- ``/stream.mjpg``: the annotated camera picture as MJPEG
  (``multipart/x-mixed-replace``), a new part whenever the publisher made one.
- ``/events``: the state as server-sent events, a new event whenever it changed.
- ``/state``: the current state as one JSON object (scripts, checks, curl).

Each client waits for a pulse from the :class:`LiveView` publisher thread and
then sends the newest bytes; the recogniser never sees a client.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import hashlib
import logging
import re
import socket
import threading
from importlib import resources
from typing import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from edge_runtime.web.errors import WebError
from edge_runtime.web.live import LiveView, WebConfig

log = logging.getLogger(__name__)

BOUNDARY = "signedge-frame"
KEEPALIVE_S = 15.0  # an idle event stream sends a comment this often, so dead clients are noticed
MAX_CONNECTIONS = 100  # beyond this uvicorn answers 503 instead of slowing the device down
START_TIMEOUT_S = 10.0
NO_CACHE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def page_html() -> str:
    """The page's source, read from the package (so it works from a wheel as from the tree)."""
    return resources.files("edge_runtime.web").joinpath("static/index.html").read_text(encoding="utf-8")


def content_security_policy(html: str) -> str:
    """A CSP that admits exactly the page's inline <script> and <style> blocks (by sha256) and nothing else."""

    def hashes(tag: str) -> str:
        blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.S)
        return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in blocks)

    return (f"default-src 'none'; img-src 'self' data:; connect-src 'self'; script-src {hashes('script')}; "
            f"style-src {hashes('style')}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class Pulse:
    """Wakes every waiting client on the event loop when the publisher thread has something new."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self.closed = False

    def _current(self) -> asyncio.Event:
        if self._event is None:
            self._loop = asyncio.get_running_loop()
            self._event = asyncio.Event()
        return self._event

    async def wait(self, timeout: float | None = None) -> bool:
        """Until the next pulse (True) or the timeout (False)."""
        event = self._current()
        if self.closed:
            return True
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    def _fire(self) -> None:
        event, self._event = self._event, asyncio.Event()
        if event is not None:
            event.set()

    def fire_threadsafe(self) -> None:
        """Called on the publisher thread: schedule the wake-up on the event loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._fire)
            except RuntimeError:  # the loop closed between the check and the call
                pass

    def close(self) -> None:
        self.closed = True
        self.fire_threadsafe()


def create_app(live: LiveView, pulse: Pulse | None = None) -> Starlette:
    """The Starlette app over ``live``: the page, the picture stream, the state stream and the state."""
    pulse = pulse or Pulse()
    html = page_html()
    page_headers = dict(NO_CACHE, **{"Content-Security-Policy": content_security_policy(html),
                                      "Referrer-Policy": "no-referrer"})

    async def page(request: Request) -> Response:
        return Response(html, media_type="text/html; charset=utf-8", headers=page_headers)

    async def state(request: Request) -> Response:
        _, data = live.state()
        return Response(data, media_type="application/json; charset=utf-8", headers=NO_CACHE)

    async def pictures() -> AsyncIterator[bytes]:
        with live.watching():
            last = -1
            while not pulse.closed:
                seq, jpeg = live.jpeg()
                if jpeg is not None and seq != last:
                    last = seq
                    yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                           .encode("ascii") + jpeg + b"\r\n")
                await pulse.wait(KEEPALIVE_S)

    async def stream(request: Request) -> Response:
        return StreamingResponse(pictures(), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                                 headers=NO_CACHE)

    async def states() -> AsyncIterator[bytes]:
        last = -1
        while not pulse.closed:
            seq, data = live.state()
            if seq != last:
                last = seq
                yield b"data: " + data + b"\n\n"
            if not await pulse.wait(KEEPALIVE_S):
                yield b": keepalive\n\n"

    async def events(request: Request) -> Response:
        return StreamingResponse(states(), media_type="text/event-stream", headers=dict(NO_CACHE, **{
            "X-Accel-Buffering": "no"}))

    live.subscribe(pulse.fire_threadsafe)
    routes = [Route("/", page, methods=["GET"]), Route("/state", state, methods=["GET"]),
              Route("/events", events, methods=["GET"]), Route("/stream.mjpg", stream, methods=["GET"])]
    return Starlette(routes=routes)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``, or a WebError in one line (port in use, not this machine's...)."""
    where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise WebError(f"cannot serve on {where}: {host!r} is not a known host name or address "
                       f"({err.strerror})") from err
    last: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart at once after a stop
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(128)
            sock.setblocking(False)
            return sock
        except OSError as err:
            sock.close()
            last = err
    if last is not None and last.errno == errno.EADDRINUSE:
        raise WebError(f"cannot serve on {where}: the port is in use (another program, or another "
                       f"sign-recognize; choose another with --port)") from last
    if last is not None and last.errno == errno.EADDRNOTAVAIL:
        raise WebError(f"cannot serve on {where}: {host} is not an address of this machine") from last
    if last is not None and last.errno == errno.EACCES:
        raise WebError(f"cannot serve on {where}: permission denied (ports below 1024 need root)") from last
    raise WebError(f"cannot serve on {where}: {last.strerror if last else 'no usable address'}") from last


class WebServer:
    """uvicorn serving :func:`create_app` on a thread; the socket is bound in ``__init__`` so errors come first."""

    def __init__(self, live: LiveView, config: WebConfig | None = None) -> None:
        self.live = live
        self.config = config or live.config
        self.sock = bind_socket(self.config.host, self.config.port)
        self.port = int(self.sock.getsockname()[1])
        host = self.config.host
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{self.port}/"
        self.pulse = Pulse()
        app = create_app(live, self.pulse)
        # log_config=None: leave the process's logging alone; no access log (a request per picture client)
        self._server = uvicorn.Server(uvicorn.Config(
            app, log_config=None, access_log=False, lifespan="off", loop="asyncio", http="h11", ws="none",
            limit_concurrency=MAX_CONNECTIONS, timeout_graceful_shutdown=2, server_header=False))
        self._thread: threading.Thread | None = None

    def start(self) -> "WebServer":
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self.sock]},
                                        name="web-server", daemon=True)
        self._thread.start()
        deadline = threading.Event()
        for _ in range(int(START_TIMEOUT_S / 0.02)):
            if self._server.started or not self._thread.is_alive():
                break
            deadline.wait(0.02)
        if not self._server.started:
            self.close()
            raise WebError(f"the web view did not start on {self.url}")
        log.info("web view on %s", self.url)
        return self

    def close(self) -> None:
        """End the client streams, stop uvicorn and free the port."""
        self.pulse.close()
        self._server.should_exit = True
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=5.0)
        self.sock.close()

    def __enter__(self) -> "WebServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

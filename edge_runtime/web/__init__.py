"""``sign-recognize --serve``: a read-only live web page of what the device sees and recognises.

- :mod:`edge_runtime.web.live`: :class:`LiveView`, the shared slot the
  recogniser writes into and the clients read from (JPEG and state made at
  most ``fps`` times per second, however many clients); no web framework.
- :mod:`edge_runtime.web.server`: the Starlette routes and the uvicorn thread
  (the ``web`` extra: ``pip install 'signedge[web]'``).
- :mod:`edge_runtime.web.errors`: :class:`WebError`, raised by both.
- ``static/index.html``: the page itself (the word as HTML text, so Korean
  is drawn with the browser's fonts).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from edge_runtime.web.errors import INSTALL_HINT, WebError
from edge_runtime.web.live import LiveView, WebConfig

if TYPE_CHECKING:
    from edge_runtime.web.server import WebServer

__all__ = ["LiveView", "WebConfig", "WebError", "is_loopback", "open_server"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` only reaches this machine (127.0.0.0/8, ::1, localhost): the default, and the safe one."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_server(live: LiveView, config: WebConfig | None = None) -> "WebServer":
    """A bound (not yet started) :class:`~edge_runtime.web.server.WebServer`; errors are one-line WebErrors."""
    try:
        from edge_runtime.web.server import WebServer
    except ImportError as err:
        raise WebError(f"--serve needs {getattr(err, 'name', None) or 'the web packages'}: {INSTALL_HINT}") from err
    return WebServer(live, config)

"""The web view's one error, in its own module so the package and its server both raise it without
importing each other."""

from __future__ import annotations

from edge_runtime.errors import SignedgeError

INSTALL_HINT = "pip install 'signedge[web]' (Starlette and uvicorn)"


class WebError(SignedgeError, OSError):
    """The web view cannot be served: the extra is missing, the port is taken, the host is not this machine's."""

"""Connecting to a Ray cluster: the one place ``sign-extract --engine ray`` and ``sign-train --cluster`` meet Ray.

``--address auto`` joins the cluster this machine belongs to (``ray start`` ran
here), ``HOST:PORT`` a head elsewhere (checked with a plain TCP connect first,
because ``ray.init`` would wait far longer than a user should), and no address
starts a throwaway one-machine cluster. Nothing imports Ray until one of these
runs, so the single-machine commands need nothing extra.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from typing import Any, Iterator

from edge_runtime.errors import SignedgeError

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'signedge[cluster]'"
CONNECT_TIMEOUT_S = 10.0


def ray_module(what: str) -> Any:
    """The ``ray`` package, or one line saying how to install it (``what``: the flag that needs it)."""
    try:
        import ray
    except ImportError:
        raise SignedgeError(f"{what} needs Ray: {INSTALL_HINT}") from None
    return ray


def _reachable(address: str) -> None:
    """HOST:PORT answers a TCP connect within a few seconds, or one clear error (ray.init would wait much longer)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise SignedgeError(f"--address must be auto or HOST:PORT (a Ray head's GCS address), got {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as err:
        raise SignedgeError(f"cannot reach the Ray cluster at {address} ({err.strerror or err}); is `ray start "
                            f"--head` running there?") from err


@contextlib.contextmanager
def ray_session(address: str | None, what: str = "--engine ray", worker_output: bool = False,
                env: dict[str, str] | None = None) -> Iterator[Any]:
    """Connect to ``address`` (``auto``: the cluster this machine belongs to; None: start one here), then leave.

    ``worker_output``: print what the workers print (training's epoch lines);
    ``env``: environment variables for this job's workers. Yields the ``ray`` module.
    """
    ray = ray_module(what)
    if address not in (None, "auto"):
        _reachable(address)
    kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": worker_output}
    if env:
        kwargs["runtime_env"] = {"env_vars": dict(env)}
    if address is None:  # a throwaway cluster for this command: its dashboard and its token-auth notice are noise
        kwargs["include_dashboard"] = False
        logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    try:
        ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise SignedgeError(f"cannot connect to the Ray cluster at {address}: {first}") from err
    try:
        resources = ray.cluster_resources()
        log.info("ray: %d node(s), %g CPUs", len(ray.nodes()), resources.get("CPU", 0))
        yield ray
    finally:
        ray.shutdown()

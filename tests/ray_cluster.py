"""A real local Ray cluster for the tests: a head and a second node on this machine, started and stopped by the
test module that uses it (``from ray_cluster import ray_cluster  # noqa: F401``), bounded in time."""

from __future__ import annotations

import importlib.util
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

RAY_START_TIMEOUT_S = 90


def ray_cli() -> str:
    if importlib.util.find_spec("ray") is None:  # not imported here: Ray reads its auth settings at import
        pytest.skip("needs the cluster extra: pip install 'signedge[cluster]'")
    ray = Path(sys.executable).with_name("ray")
    if not ray.is_file():
        pytest.skip(f"no ray command next to {sys.executable}")
    return str(ray)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``ray start --head`` plus a second node joining it (1 CPU each), stopped afterwards, all bounded in time."""
    ray = ray_cli()
    address = f"127.0.0.1:{free_port()}"
    # Ray 2.5x+ starts clusters with token authentication: every node and the driver (this process) share one.
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_USAGE_STATS_ENABLED": "0"}
    saved = {key: os.environ.get(key) for key in auth}
    os.environ.update(auth)
    env = dict(os.environ)
    common = ["--num-cpus", "1", "--disable-usage-stats"]
    try:
        subprocess.run([ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", address.split(":")[1],
                        "--include-dashboard", "false", *common], check=True, capture_output=True, env=env,
                       timeout=RAY_START_TIMEOUT_S)
        subprocess.run([ray, "start", "--address", address, "--node-ip-address", "127.0.0.1", *common], check=True,
                       capture_output=True, env=env, timeout=RAY_START_TIMEOUT_S)
        yield address
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True, env=env, timeout=RAY_START_TIMEOUT_S)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def ray_processes(title: bytes) -> list[int]:
    """Processes of Ray workers whose title holds ``title`` (Ray titles an actor's process after its class)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if title in cmdline:
                pids.append(int(entry.name))
    return pids

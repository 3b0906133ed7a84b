"""The machine a benchmark ran on: CPU, cores, memory, load, Python and library versions.

A latency without its machine is not a result. Every ``sign-bench`` report
starts with this header, so a figure from a laptop is never mistaken for one
from a Raspberry Pi (where the same command is meant to be run). Nothing here
imports a heavy library: versions come from the installed package metadata.
"""

from __future__ import annotations

import math
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

# Distributions whose versions change the numbers (interpreters, converters, video decoding).
LIBRARIES = ("signedge", "numpy", "tensorflow", "keras", "ai-edge-litert", "tflite-runtime", "onnxruntime",
             "mediapipe", "opencv-python-headless", "opencv-contrib-python", "opencv-python")


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def cpu_model() -> str:
    """The CPU's marketing name (x86 ``model name``), else the board (a Pi's device-tree model), else the arch."""
    board = _read("/proc/device-tree/model").strip("\x00\n ")
    for line in _read("/proc/cpuinfo").splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Hardware", "Model") and value.strip():
            name = value.strip()
            return f"{board} ({name})" if board and board not in name else name
    return board or platform.processor() or platform.machine() or "unknown"


def memory_mb() -> int | None:
    """Total RAM in MB (Linux), None where /proc/meminfo is absent."""
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return None


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that matter here; absent ones are left out."""
    found = {}
    for dist in LIBRARIES:
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            continue
    return found


def tflite_runtime_name() -> str:
    """Which TFLite interpreter ``edge_runtime.tflite`` picks on this machine (what the device would use)."""
    from edge_runtime.errors import ModelError
    from edge_runtime.tflite import runtime_name

    try:
        return runtime_name()
    except ModelError:
        return "none"


def machine_info() -> dict[str, Any]:
    """Everything the report's header says about the machine, as plain JSON values."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS has no affinity call
        usable = os.cpu_count() or 1
    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        load = []
    return {
        "cpu": cpu_model(),
        "arch": platform.machine(),
        "cores": os.cpu_count() or 1,
        "usable_cores": usable,
        "memory_mb": memory_mb(),
        "load_average": load,  # 1, 5, 15 min at the start: a busy machine slows every row
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "tflite_runtime": tflite_runtime_name(),
        "libraries": library_versions(),
    }


def header_lines(info: dict[str, Any]) -> list[str]:
    """The machine as a few readable lines (the report's and the terminal's header)."""
    memory = f", {info['memory_mb'] / 1024:.1f} GB RAM" if info.get("memory_mb") else ""
    load = info.get("load_average") or []
    lines = [
        f"CPU: {info['cpu']} ({info['arch']}), {info['usable_cores']} of {info['cores']} cores usable{memory}",
        f"OS: {info['os']}; Python {info['python']}; TFLite interpreter: {info['tflite_runtime']}",
        "libraries: " + ", ".join(f"{k} {v}" for k, v in info.get("libraries", {}).items()),
    ]
    if load:
        lines.append(f"load average at start: {' / '.join(f'{v:g}' for v in load)} (1 / 5 / 15 min)")
    return lines


def _proc_status_mb(key: str) -> float:
    """A ``kB`` field of /proc/self/status in MB (Linux), NaN elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return float("nan")


def current_rss_mb() -> float:
    """Resident memory of this process now (Linux), NaN where it cannot be read."""
    return _proc_status_mb("VmRSS")


def peak_rss_mb() -> float:
    """Peak resident memory of this process's own address space.

    Linux: ``VmHWM``, which starts afresh at ``exec``. Not ``ru_maxrss``: Linux
    carries that over ``exec`` from the parent, so a worker started by a big
    parent (a test process with TensorFlow loaded) would report the parent's
    peak. Elsewhere ``ru_maxrss`` (bytes on macOS), the best there is.
    """
    hwm = _proc_status_mb("VmHWM")
    if math.isfinite(hwm):
        return hwm
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024

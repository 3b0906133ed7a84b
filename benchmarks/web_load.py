"""Load test of the live web page: do 20 browser tabs slow recognition down?

What ``sign-recognize --serve`` promises is that watchers cost the
recogniser (almost) nothing: the recogniser thread only hands its newest frame
to ``LiveView``; a publisher thread encodes at most ``--web-fps`` JPEGs a
second whatever the number of clients; every client reads those bytes at its
own pace. This script measures it with the objects the CLI uses
(``Recognizer`` over a looping ``RecordingReplay``, ``LiveView``,
``WebServer`` on 127.0.0.1). The replay is NOT paced: the recogniser runs as
fast as it can (pure Python, no landmark model), so any time the web side
takes from it shows; this is the worst case for the web view.

``--clients`` simulated tabs each hold what a browser holds: the page,
``/state``, the event stream and the MJPEG stream (20 tabs = 40 long-lived
connections). They run in a separate process at the lowest CPU priority, as
if the browsers were on other machines. A shared machine's speed drifts, so
the ``--seconds`` of load are cut into ``--cycles`` and each loaded stretch is
compared with the stretches without clients just before and after it:

    idle | tabs | idle | tabs | ... | tabs | idle

The drop is the median over cycles of 1 - loaded / mean(idle before, idle
after), in frames per wall-clock second (the criterion), and also per CPU
second the recogniser thread got (what remains when other programs' load is
taken out). The script exits 1 when the wall-clock drop exceeds
``--max-drop``, a tab was not served in every cycle (page, state, at least
one state event, at least half the picture cap), or a thread died. Only
loopback addresses are allowed.

    python -m benchmarks.cli.web_load --model model_int8.tflite --source take.npz --clients 20 --seconds 30
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import platform
import statistics
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BOUNDARY = b"--signedge-frame"
CONNECT_TIMEOUT_S = 60.0


@dataclass
class ClientResult:
    """What one simulated browser tab received in one loaded stretch."""

    page_ok: bool = False
    state_ok: bool = False
    events: int = 0  # server-sent state events
    pictures: int = 0  # MJPEG parts
    picture_bytes: int = 0
    error: str = ""


@dataclass
class Phase:
    name: str
    seconds: float
    frames: int
    fps: float
    encodes_per_s: float
    recogniser_cpu: float | None = None  # CPU seconds per second of the recogniser thread (Linux only)
    web_cpu: float | None = None  # ... of the web server and publisher threads together
    load: float | None = None  # the machine's 1-minute load average at the end (other programs compete too)

    @property
    def fps_per_cpu(self) -> float | None:
        return self.fps / self.recogniser_cpu if self.recogniser_cpu else None


@dataclass
class Cycle:
    idle_before: Phase
    loaded: Phase
    idle_after: Phase
    tabs: list[ClientResult]
    served: int  # tabs served in this stretch

    @property
    def ratio(self) -> float:
        reference = (self.idle_before.fps + self.idle_after.fps) / 2
        return self.loaded.fps / reference if reference else 0.0

    @property
    def cpu_ratio(self) -> float | None:
        values = [p.fps_per_cpu for p in (self.idle_before, self.loaded, self.idle_after)]
        if None in values:
            return None
        before, loaded, after = values
        return loaded / ((before + after) / 2)


@dataclass
class Report:
    clients: int
    seconds: float
    web_fps: float
    cycles: list[Cycle] = field(default_factory=list)
    drop: float = 1.0  # median over cycles, frames per wall-clock second
    cpu_drop: float | None = None  # median over cycles, frames per recogniser CPU second
    unserved: int = 0  # tab-stretches not served
    problems: list[str] = field(default_factory=list)
    machine: str = field(default_factory=lambda: f"{platform.machine()}, {multiprocessing.cpu_count()} cores, "
                                                f"Python {platform.python_version()}")


def _thread_cpu(threads: list[threading.Thread]) -> float | None:
    """CPU seconds the given threads used so far (from /proc; None where there is no /proc)."""
    total = 0.0
    try:
        for thread in threads:
            with open(f"/proc/self/task/{thread.native_id}/stat", encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, TypeError):
        return None
    return total


# --- the clients (their own process) -----------------------------------------------------------------------------

async def _request(host: str, port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode("ascii"))
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    return reader, writer, head


async def _fetch(host: str, port: int, path: str) -> bool:
    reader, writer, head = await _request(host, port, path)
    await reader.read()
    writer.close()
    return head.startswith(b"HTTP/1.1 200")


async def _count(host: str, port: int, path: str, marker: bytes, result: ClientResult, attr: str) -> None:
    """Read a never-ending response until cancelled, counting ``marker`` (also when split across chunks)."""
    reader, writer, head = await _request(host, port, path)
    try:
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"{path}: {head.splitlines()[0].decode(errors='replace')}")
        tail = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                raise RuntimeError(f"{path}: the server closed the stream")
            data = tail + chunk
            setattr(result, attr, getattr(result, attr) + data.count(marker) - tail.count(marker))
            tail = data[-len(marker):]
            if attr == "pictures":
                result.picture_bytes += len(chunk)
    finally:
        writer.close()


async def _tab(host: str, port: int, stop: asyncio.Event, result: ClientResult) -> None:
    """One browser tab: the page and the state, then the event and picture streams side by side until ``stop``."""
    try:
        result.page_ok = await _fetch(host, port, "/")
        result.state_ok = await _fetch(host, port, "/state")
        streams = [asyncio.create_task(_count(host, port, "/events", b"data: ", result, "events")),
                   asyncio.create_task(_count(host, port, "/stream.mjpg", BOUNDARY, result, "pictures"))]
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*streams, stopper], return_when=asyncio.FIRST_COMPLETED)
        for task in [*streams, stopper]:
            task.cancel()
        await asyncio.gather(*streams, stopper, return_exceptions=True)
        failed = [t.exception() for t in done if t is not stopper and not t.cancelled() and t.exception()]
        if failed:
            raise failed[0]
    except Exception as err:  # reported per tab
        result.error = f"{type(err).__name__}: {err}"


async def _stretch(host: str, port: int, clients: int, commands: Any) -> list[ClientResult]:
    """All tabs open until the device sends "close"."""
    stop = asyncio.Event()
    results = [ClientResult() for _ in range(clients)]

    async def wait_for_close() -> None:
        await asyncio.get_running_loop().run_in_executor(None, commands.get)
        stop.set()

    await asyncio.gather(wait_for_close(), *(_tab(host, port, stop, r) for r in results))
    return results


def run_clients(host: str, port: int, clients: int, commands: Any, out: Any, nice: int = 19) -> None:
    """The client process: on each "open" command, ``clients`` tabs until "close"; results onto ``out``.

    Real browsers run on other machines; here they share the device's cores, so this process runs at the
    lowest priority (``nice``) and takes CPU time from the device only when it has some to spare.
    """
    if nice and hasattr(os, "nice"):
        os.nice(nice)
    out.put("ready")
    while commands.get() == "open":
        out.put([asdict(r) for r in asyncio.run(_stretch(host, port, clients, commands))])


# --- the device side ---------------------------------------------------------------------------------------------

class Device:
    """The recogniser over a looping, unpaced replay, publishing into a LiveView served on ``host``."""

    def __init__(self, model: Path, source: Path, host: str, web_fps: float) -> None:
        from edge_runtime.classifier import load_classifier
        from edge_runtime.recognizer import Recognizer
        from edge_runtime.replay import RecordingReplay
        from edge_runtime.web import LiveView, WebConfig, open_server
        from edge_runtime.web.pacing import Looped

        clf = load_classifier(model, threads=1)
        config = WebConfig(host=host, port=0, fps=web_fps)
        self.live = LiveView(clf.labels, config, {"source": f"{source.name} (looped, unpaced)", "model": model.name})
        self.recognizer = Recognizer(Looped(RecordingReplay(source)), None, clf)
        recognizer = self.recognizer
        self.recognizer.on_frame = lambda view: self.live.on_frame(view, aspect=recognizer.aspect,
                                                                   stats=recognizer.stats)
        self.server = open_server(self.live, config)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._recognise, name="recogniser", daemon=True)

    def _recognise(self) -> None:
        try:
            for event in self.recognizer:
                self.live.on_event(event)
        except BaseException as err:  # reported as a problem
            self.error = err

    def __enter__(self) -> "Device":
        self.live.start()
        self.server.start()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.recognizer.stop()
        self._thread.join(timeout=10)
        self.server.close()
        self.live.close()

    def problems(self) -> list[str]:
        found = []
        if not self._thread.is_alive() or self.error is not None:
            found.append(f"the recogniser stopped: {self.error!r}")
        if not any(t.name == "web-server" and t.is_alive() for t in threading.enumerate()):
            found.append("the web server thread died")
        return found

    def measure(self, name: str, seconds: float) -> Phase:
        web = [t for t in threading.enumerate() if t.name in ("web-server", "web-publisher")]
        cpu0 = (_thread_cpu([self._thread]), _thread_cpu(web))
        frames0, encodes0, t0 = self.recognizer.stats.frames, self.live.encodes, time.perf_counter()
        time.sleep(seconds)
        frames, encodes, dt = (self.recognizer.stats.frames - frames0, self.live.encodes - encodes0,
                               time.perf_counter() - t0)
        cpu1 = (_thread_cpu([self._thread]), _thread_cpu(web))
        rec_cpu, web_cpu = ((round((b - a) / dt, 3) if a is not None and b is not None else None)
                            for a, b in zip(cpu0, cpu1))
        load = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
        return Phase(name, round(dt, 2), frames, round(frames / dt, 1), round(encodes / dt, 2), rec_cpu, web_cpu,
                     load)

    def wait_for_watchers(self, count: int, timeout: float = CONNECT_TIMEOUT_S) -> bool:
        deadline = time.monotonic() + timeout
        while self.live.watchers != count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True


def _served(tab: ClientResult, least_pictures: int) -> bool:
    return not tab.error and tab.page_ok and tab.state_ok and tab.events >= 1 and tab.pictures >= least_pictures


def run_load_test(model: Path, source: Path, clients: int, seconds: float, cycles: int = 6, web_fps: float = 10.0,
                  host: str = "127.0.0.1", warmup: float = 3.0) -> Report:
    """idle | tabs | idle | ... | tabs | idle, as described in the module docstring."""
    report = Report(clients=clients, seconds=seconds, web_fps=web_fps)
    stretch = seconds / cycles
    least_pictures = max(1, int(0.5 * web_fps * stretch))
    context = multiprocessing.get_context("spawn")
    commands, out = context.Queue(), context.Queue()
    with Device(model, source, host, web_fps) as device:
        process = context.Process(target=run_clients, args=(host, device.server.port, clients, commands, out),
                                  daemon=True)
        process.start()
        try:
            out.get(timeout=CONNECT_TIMEOUT_S)  # the client process is up (its start-up is not measured)
            time.sleep(warmup)
            idle = device.measure("no clients", stretch)
            for number in range(cycles):
                commands.put("open")
                if not device.wait_for_watchers(clients):
                    report.problems.append(f"cycle {number + 1}: only {device.live.watchers} of {clients} "
                                           f"picture streams connected")
                time.sleep(0.5)  # the tabs' first pictures and page loads are not part of the stretch
                loaded = device.measure(f"{clients} tabs", stretch)
                commands.put("close")
                tabs = [ClientResult(**r) for r in out.get(timeout=CONNECT_TIMEOUT_S)]
                if not device.wait_for_watchers(0):
                    report.problems.append(f"cycle {number + 1}: streams stayed open after the tabs closed")
                after = device.measure("no clients", stretch)
                report.cycles.append(Cycle(idle, loaded, after, tabs,
                                           sum(_served(t, least_pictures) for t in tabs)))
                idle = after
            report.problems += device.problems()
        finally:
            commands.put("quit")  # ends a stretch still open, then the process
            commands.put("quit")
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
    report.unserved = sum(clients - c.served for c in report.cycles)
    report.drop = round(1 - statistics.median(c.ratio for c in report.cycles), 4)
    cpu = [c.cpu_ratio for c in report.cycles]
    report.cpu_drop = None if None in cpu else round(1 - statistics.median(cpu), 4)
    return report


def render(report: Report) -> str:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.1f}%"

    lines = [f"web load test: {report.clients} tabs (page + state + events + MJPEG each), {len(report.cycles)} "
             f"stretches of {report.seconds / max(len(report.cycles), 1):g} s ({report.seconds:g} s loaded), "
             f"web fps cap {report.web_fps:g}; {report.machine}",
             f"{'cycle':>5} {'idle fps':>9} {'tabs fps':>9} {'idle fps':>9} {'ratio':>6} {'CPU ratio':>9} "
             f"{'encodes/s':>9} {'web CPU':>8} {'tabs served':>11} {'pictures/tab':>12} {'load':>5}"]
    for number, c in enumerate(report.cycles, 1):
        pictures = sorted(t.pictures for t in c.tabs)
        lines.append(f"{number:>5} {c.idle_before.fps:>9.0f} {c.loaded.fps:>9.0f} {c.idle_after.fps:>9.0f} "
                     f"{c.ratio:>6.3f} {'n/a' if c.cpu_ratio is None else f'{c.cpu_ratio:.3f}':>9} "
                     f"{c.loaded.encodes_per_s:>9.2f} {pct(c.loaded.web_cpu):>8} "
                     f"{f'{c.served}/{len(c.tabs)}':>11} {f'{pictures[0]}-{pictures[-1]}':>12} "
                     f"{'n/a' if c.loaded.load is None else f'{c.loaded.load:.1f}':>5}")
    lines.append(f"throughput drop under load (median over cycles): {pct(report.drop)} in frames per second, "
                 f"{pct(report.cpu_drop)} in frames per recogniser CPU second")
    lines += [f"problem: {p}" for p in report.problems]
    errors = sorted({t.error for c in report.cycles for t in c.tabs if t.error})
    lines += [f"client error: {e}" for e in errors]
    return "\n".join(lines)

"""The shared slot between the recogniser and the web clients: newest picture and state, made at a fixed pace.

The recogniser must never wait for a browser. So the recogniser thread only
drops a reference to its newest :class:`FrameView` (and each :class:`SignEvent`)
into :class:`LiveView` — a lock, an assignment, no drawing, no encoding. A
publisher thread wakes ``fps`` times per second, and only then draws the
hands, encodes one JPEG (only while somebody watches the stream) and
serialises one JSON state. Every client reads those same bytes at its own
pace: 1 or 20 browser tabs cost the same number of encodes, and a slow client
only skips pictures, it never holds anything up.

No web framework is imported here; ``edge_runtime.web.server`` serves what
this makes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from edge_runtime.recognizer import FrameView, RunStats, SignEvent

log = logging.getLogger(__name__)


@dataclass
class WebConfig:
    """Where the page is served and how much work it may cost; ``sign-recognize --serve`` flags mirror these."""

    host: str = "127.0.0.1"  # loopback only unless the user names another address
    port: int = 8000  # 0: any free port (the chosen one is printed)
    fps: float = 10.0  # most JPEG encodes and state updates per second, whatever the number of clients
    jpeg_quality: int = 75
    history: int = 10  # recognised words listed on the page

    def validate(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be within 0..65535, got {self.port}")
        if not 0.5 <= self.fps <= 60:
            raise ValueError(f"web fps must be within 0.5..60, got {self.fps:g}")
        if not 10 <= self.jpeg_quality <= 100:
            raise ValueError(f"JPEG quality must be within 10..100, got {self.jpeg_quality}")
        if not 1 <= self.history <= 1000:
            raise ValueError(f"history must be within 1..1000 words, got {self.history}")


def _event_dict(event: SignEvent) -> dict[str, Any]:
    return {"label": event.label, "confidence": round(event.confidence, 4), "known": event.known,
            "best": event.top3[0][0] if event.top3 else event.label,
            "top3": [{"label": label, "p": round(p, 4)} for label, p in event.top3],
            "start_s": round(event.start_s, 3), "end_s": round(event.end_s, 3), "frames": event.frames,
            "reason": event.reason, "inference_ms": round(event.inference_ms, 3)}


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


class LiveView:
    """Newest frame and words in, newest JPEG and JSON state out; see the module docstring.

    Writer side (the recogniser thread): :meth:`on_frame`, :meth:`on_event`,
    :meth:`finish`. Reader side (any thread): :meth:`jpeg`, :meth:`state`,
    :meth:`watching`, :meth:`subscribe`. :meth:`start` runs the publisher
    thread; :meth:`close` stops it.
    """

    def __init__(self, labels: list[str], config: WebConfig | None = None,
                 info: dict[str, str] | None = None) -> None:
        self.labels = list(labels)
        self.config = config or WebConfig()
        self.config.validate()
        self.info = dict(info or {})
        self._lock = threading.Lock()
        self._view: FrameView | None = None
        self._aspect = 1.0
        self._stats: RunStats | None = None
        self._view_seq = 0  # frames handed in
        self._events: deque[dict[str, Any]] = deque(maxlen=self.config.history)
        self._word: dict[str, Any] | None = None
        self._words = 0
        self._message: str | None = None  # why the stream ended, once it has
        self._dirty = True  # words or the message changed since the last state
        self._watchers = 0  # open picture streams
        self._jpeg: bytes | None = None
        self._jpeg_seq = 0  # JPEGs encoded (also the id clients compare)
        self._jpeg_view_seq = -1  # the frame the current JPEG shows
        self._state = b"{}"
        self._state_seq = 0
        self._state_view_seq = -1
        self._timings: dict[str, float | None] = {"landmarks_ms_per_frame": None, "inference_ms": None,
                                                  "draw_ms": None, "jpeg_ms": None}
        self._last_counts = (0, 0.0)  # (frames, landmarks ms in all) at the previous state, for recent per-frame times
        self._rate_marks: deque[tuple[float, int]] = deque()  # (time, frames handed in) over the last second
        self._fps: float | None = None  # measured once a second of ticks has passed
        self._subscribers: list[Callable[[], None]] = []
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self.encodes = 0  # JPEGs encoded in all: the cost the page put on the device
        self._publish_state()

    # -- writer side: called on the recogniser thread, must stay O(1) ---------------------------------------
    def on_frame(self, view: FrameView, *, aspect: float = 1.0, stats: RunStats | None = None) -> None:
        """Keep a reference to the newest frame; drawing and encoding happen later on the publisher thread."""
        with self._lock:
            self._view, self._aspect, self._stats = view, float(aspect), stats
            self._view_seq += 1

    def on_event(self, event: SignEvent) -> None:
        """A recognised sign: the page's current word and the top of its history."""
        entry = _event_dict(event)
        with self._lock:
            self._words += 1
            entry["n"] = self._words
            self._word = entry
            self._events.appendleft(entry)
            self._dirty = True

    def finish(self, message: str) -> None:
        """The stream ended (or failed): the page keeps the last picture and says so."""
        with self._lock:
            self._message = message
            self._dirty = True

    # -- reader side ---------------------------------------------------------------------------------------------
    def jpeg(self) -> tuple[int, bytes | None]:
        """(id, bytes) of the newest encoded picture; the id changes with every new picture."""
        with self._lock:
            return self._jpeg_seq, self._jpeg

    def state(self) -> tuple[int, bytes]:
        """(id, UTF-8 JSON) of the newest state; the id changes with every new state."""
        with self._lock:
            return self._state_seq, self._state

    @property
    def watchers(self) -> int:
        return self._watchers

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """Count one picture stream while it is open: JPEGs are only encoded while someone watches."""
        with self._lock:
            self._watchers += 1
        try:
            yield
        finally:
            with self._lock:
                self._watchers -= 1

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` (on the publisher thread; keep it short) after every new picture or state."""
        self._subscribers.append(callback)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    # -- the publisher thread ----------------------------------------------------------------------------------
    def start(self) -> "LiveView":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="web-publisher", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        self._notify()

    def __enter__(self) -> "LiveView":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        period = 1.0 / self.config.fps
        deadline = time.monotonic()
        while not self._closed.is_set():
            try:
                self.tick()
            except Exception:  # a failed picture must not end the page (nor the recogniser)
                log.exception("web view: publishing failed")
            deadline = max(deadline + period, time.monotonic())  # never try to catch up on missed ticks
            self._closed.wait(max(0.0, deadline - time.monotonic()))

    def tick(self) -> bool:
        """One publisher step: a new state if anything changed, a new JPEG if someone watches a new frame."""
        with self._lock:
            view, view_seq, aspect, stats = self._view, self._view_seq, self._aspect, self._stats
            dirty, self._dirty = self._dirty, False
            watched = self._watchers > 0
        self._measure_rate(view_seq)
        changed = False
        if view is not None and watched and view_seq != self._jpeg_view_seq:
            self._encode(view, aspect)
            self._jpeg_view_seq = view_seq
            changed = True
        if dirty or view_seq != self._state_view_seq:
            self._state_view_seq = view_seq
            self._publish_state(view, stats)
            changed = True
        if changed:
            self._notify()
        return changed

    def _measure_rate(self, view_seq: int, window_s: float = 1.0) -> None:
        """Frames handed in per second over the last second of ticks: what the page shows as FPS, steadier than
        the recogniser's per-frame estimate when a replay is paced by sleeping."""
        now = time.monotonic()
        marks = self._rate_marks
        marks.append((now, view_seq))
        while len(marks) > 2 and now - marks[1][0] >= window_s:
            marks.popleft()
        (t0, seq0), (t1, seq1) = marks[0], marks[-1]
        if t1 - t0 >= 0.2:
            self._fps = (seq1 - seq0) / (t1 - t0)

    def _shown_fps(self, view: FrameView) -> float:
        return self._fps if self._fps is not None else view.fps

    def _encode(self, view: FrameView, aspect: float) -> None:
        import cv2

        from edge_runtime.display import draw_frame

        start = time.perf_counter()
        # The word goes to the page as HTML text (Korean needs the browser's fonts), not into the picture.
        shown = dataclasses.replace(view, last_event=None, fps=self._shown_fps(view))
        canvas = draw_frame(shown, self.labels, aspect)
        drawn = time.perf_counter()
        ok, buf = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, int(self.config.jpeg_quality)])
        done = time.perf_counter()
        if not ok:
            raise RuntimeError("OpenCV could not encode the frame as JPEG")
        self._timings["draw_ms"] = (drawn - start) * 1000.0
        self._timings["jpeg_ms"] = (done - drawn) * 1000.0
        with self._lock:
            self._jpeg = buf.tobytes()
            self._jpeg_seq += 1
            self.encodes += 1

    def _publish_state(self, view: FrameView | None = None, stats: RunStats | None = None) -> None:
        if stats is not None and stats.frames > self._last_counts[0]:
            frames, lm_ms = self._last_counts
            if stats.landmarks_ms > 0:  # the mean over the frames since the previous state
                self._timings["landmarks_ms_per_frame"] = (stats.landmarks_ms - lm_ms) / (stats.frames - frames)
            self._last_counts = (stats.frames, stats.landmarks_ms)
        with self._lock:
            word, history, message, words = self._word, list(self._events), self._message, self._words
            watchers = self._watchers
        if word is not None:
            self._timings["inference_ms"] = word["inference_ms"]
        state = {
            "running": message is None,
            "message": message,
            "source": self.info.get("source", ""),
            "model": self.info.get("model", ""),
            "word": word,
            "words": words,
            "history": history,
            "in_sign": bool(view.in_sign) if view is not None else False,
            "hands": int(view.hands.present.sum()) if view is not None else 0,
            "stream_s": round(view.timestamp_s, 3) if view is not None else 0.0,
            "fps": round(self._shown_fps(view), 1) if view is not None else 0.0,
            "frames": stats.frames if stats is not None else 0,
            "timings": {key: _ms(value) for key, value in self._timings.items()},
            "web": {"fps": self.config.fps, "encodes": self.encodes, "streams": watchers},
        }
        data = json.dumps(state, ensure_ascii=False).encode("utf-8")
        with self._lock:
            self._state = data
            self._state_seq += 1

    def _notify(self) -> None:
        for callback in list(self._subscribers):
            try:
                callback()
            except Exception:  # a server that went away must not stop the publisher
                log.debug("web view: a subscriber failed", exc_info=True)

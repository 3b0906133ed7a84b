"""Replays and videos at the speed they were recorded, and replays on a loop: what a watched page needs.

A ``.npz`` replay runs as fast as the CPU allows: a whole take in a few
milliseconds, which is right for tests and for ``--json`` output, and useless
on a page a person watches. :class:`RealTime` holds each item back until its
timestamp (never speeding anything up); :class:`Looped` plays a replay again
and again with timestamps that keep increasing, for demos and load tests.
Both pass the wrapped source's attributes (``aspect``, ``fps``, ``close``...)
through.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Iterator


class _Wrapper:
    def __init__(self, source: Iterable[tuple[float, Any]]) -> None:
        self.source = source

    def __getattr__(self, name: str) -> Any:  # aspect, fps, width, height, close, ... of the source
        return getattr(self.source, name)


class RealTime(_Wrapper):
    """Yield ``source``'s items no earlier than their timestamps say (relative to the first item)."""

    def __init__(self, source: Iterable[tuple[float, Any]], *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(source)
        self._clock, self._sleep = clock, sleep

    def __iter__(self) -> Iterator[tuple[float, Any]]:
        origin: float | None = None
        for t, item in self.source:
            now = self._clock()
            if origin is None:
                origin = now - float(t)
            delay = origin + float(t) - now
            if delay > 0:
                self._sleep(delay)
            yield t, item


class Looped(_Wrapper):
    """Iterate a re-iterable source ``times`` times (None: forever), each pass after the previous one in time."""

    def __init__(self, source: Iterable[tuple[float, Any]], times: int | None = None) -> None:
        super().__init__(source)
        if times is not None and times < 1:
            raise ValueError(f"times must be >= 1, got {times}")
        self.times = times
        self.passes = 0  # passes started

    def __iter__(self) -> Iterator[tuple[float, Any]]:
        offset = 0.0
        while self.times is None or self.passes < self.times:
            self.passes += 1
            last: float | None = None
            step = 0.0
            for t, item in self.source:
                t = float(t)
                if last is not None:
                    step = t - last
                last = t
                yield offset + t, item
            if last is None:  # an empty source would loop without end
                return
            offset += last + (step if step > 0 else 1.0 / 30.0)

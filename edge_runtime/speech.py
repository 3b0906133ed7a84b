"""``--speak``: say each recognised word aloud with espeak-ng, on its own thread so recognition never waits.

espeak-ng is a small offline speech synthesiser with a Korean voice (``ko``),
packaged by Debian and Raspberry Pi OS (``sudo apt install espeak-ng``). It is
driven through its command line, one process per word, with the word on
standard input (a label that starts with ``-`` is never read as an option).

:class:`Speaker` keeps a short queue: the recogniser only appends a word; a
worker thread speaks them in order. If words arrive faster than they can be
spoken, the oldest waiting word is dropped (a late word is worse than none),
and the same word is never said twice within ``cooldown_s`` seconds.

With ``to_dir`` the audio goes to numbered WAV files instead of the speaker
(``-w``), which is how the tests hear it and how a device without audio can
keep a record.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from edge_runtime.errors import SignedgeError
from edge_runtime.files import atomic_path

log = logging.getLogger(__name__)

ENGINE = "espeak-ng"
INSTALL_HINT = "sudo apt install espeak-ng"
MAX_WAITING = 3  # words waiting to be spoken; older ones are dropped
SPEAK_TIMEOUT_S = 30.0  # one word never takes this long; a hung engine is killed


class SpeechError(SignedgeError, OSError):
    """No speech engine, or the engine lacks the voice."""


@dataclass
class SpeechConfig:
    """What ``--speak``, ``--voice`` and ``--speak-to-file`` set."""

    voice: str = "ko"  # an espeak-ng voice (``espeak-ng --voices`` lists them), optionally with a variant: ko+f3
    cooldown_s: float = 3.0  # the same word is not said again within this many seconds
    to_dir: Path | None = None  # write WAV files here instead of playing the audio
    speed: int | None = None  # words per minute (espeak-ng -s); None: the voice's default
    engine: str = ENGINE  # the program, by name on PATH or as a path

    def validate(self) -> None:
        if not self.cooldown_s >= 0:
            raise ValueError(f"speech cooldown must be >= 0 seconds, got {self.cooldown_s}")
        if self.speed is not None and not 80 <= self.speed <= 500:
            raise ValueError(f"speech speed must be within 80..500 words per minute, got {self.speed}")
        if not re.fullmatch(r"[A-Za-z0-9_./+-]+", self.voice or ""):
            raise ValueError(f"{self.voice!r} is not an espeak-ng voice name")


def find_engine(config: SpeechConfig) -> str:
    """The engine's path after checking that it runs and has the voice; a SpeechError in one line otherwise."""
    path = shutil.which(config.engine)
    if path is None:
        raise SpeechError(f"--speak needs {config.engine}, which is not installed ({INSTALL_HINT})")
    try:
        # --stdout synthesises into a pipe: checks the voice without touching the sound card
        result = subprocess.run([path, "-v", config.voice, "--stdout", ""], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SpeechError(f"{config.engine} does not run ({err})") from err
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SpeechError(f"{config.engine} has no voice {config.voice!r} "
                          f"({detail[0] if detail else 'exit ' + str(result.returncode)}; "
                          f"'{config.engine} --voices' lists them)")
    return path


def file_stem(number: int, word: str) -> str:
    """``0001-word``: numbered in speaking order, the word kept readable (Korean too) but safe as a file name."""
    safe = re.sub(r"[^\w.-]+", "_", word, flags=re.UNICODE).strip("._") or "word"
    return f"{number:04d}-{safe[:60]}"


class Speaker:
    """Speaks words on a worker thread; ``say`` never blocks. Use as a context manager, or ``start``/``close``."""

    def __init__(self, config: SpeechConfig | None = None, *, engine_path: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config or SpeechConfig()
        self.config.validate()
        self.engine = engine_path or find_engine(self.config)
        if self.config.to_dir is not None:
            self.config.to_dir.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._cond = threading.Condition()
        self._waiting: deque[str] = deque()
        self._last_said: dict[str, float] = {}
        self._busy = False
        self._closing = False
        self._warned: set[str] = set()
        self.spoken: list[str] = []  # words said, in order
        self.files: list[Path] = []  # WAV files written (to_dir mode)
        self.dropped = 0  # words dropped because the queue was full
        self.skipped = 0  # words not said again within the cooldown
        self._thread = threading.Thread(target=self._work, name="speech", daemon=True)

    def start(self) -> "Speaker":
        self._thread.start()
        return self

    def say(self, word: str) -> bool:
        """Queue ``word``; False when it was said (or queued) less than ``cooldown_s`` ago."""
        now = self._clock()
        with self._cond:
            last = self._last_said.get(word)
            if last is not None and now - last < self.config.cooldown_s:
                self.skipped += 1
                return False
            self._last_said[word] = now  # counted from when it was asked for: the cooldown is the user's view
            if len(self._waiting) >= MAX_WAITING:
                old = self._waiting.popleft()
                self.dropped += 1
                log.info("dropped %r: words arrive faster than they can be spoken", old)
            self._waiting.append(word)
            self._cond.notify_all()
        return True

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Until every queued word has been spoken (True) or the timeout passed (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._waiting and not self._busy, timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Finish the words already queued (at most ``timeout`` seconds), then stop the worker."""
        if self._thread.is_alive():
            self.wait_idle(timeout)
        with self._cond:
            self._closing = True
            self._waiting.clear()
            self._cond.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=SPEAK_TIMEOUT_S)

    def __enter__(self) -> "Speaker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _work(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._waiting or self._closing)
                if self._closing:
                    return
                word = self._waiting.popleft()
                self._busy = True
            try:
                self._speak(word)
            except Exception as err:  # one failed word must not silence the rest
                self._warn_once(f"could not say {word!r}: {err}")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _command(self, wav: Path | None) -> list[str]:
        cmd = [self.engine, "-v", self.config.voice]
        if self.config.speed is not None:
            cmd += ["-s", str(self.config.speed)]
        if wav is not None:
            cmd += ["-w", str(wav)]
        return cmd + ["--stdin"]

    def _speak(self, word: str) -> None:
        if self.config.to_dir is None:
            result = self._run(self._command(None), word)
            # espeak-ng exits 0 even when no sound card answered; its stderr says so
            trouble = [line.strip() for line in result.stderr.splitlines() if line.strip()]
            if trouble:
                alsa = [line for line in trouble if line.startswith("ALSA lib")]
                detail = alsa[-1].split(")", 1)[-1].strip() if alsa else trouble[-1]
                self._warn_once(f"{self.config.engine} could not play the words ({detail}); "
                                f"--speak-to-file DIR keeps them as WAV files instead")
            self.spoken.append(word)
            return
        final = self.config.to_dir / f"{file_stem(len(self.files) + 1, word)}.wav"
        with atomic_path(final) as tmp:
            result = self._run(self._command(tmp), word)
            # and it exits 0 when it cannot write the file: check the file itself
            if result.returncode != 0 or tmp.stat().st_size <= 44:  # 44 bytes: a WAV header without audio
                detail = result.stderr.strip().splitlines()
                raise OSError(f"{self.config.engine} wrote no audio to {final}"
                              + (f" ({detail[-1].strip()})" if detail else ""))
        self.files.append(final)
        self.spoken.append(word)
        log.info("said %s into %s", word, final)

    def _run(self, cmd: list[str], word: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(cmd, input=word, capture_output=True, text=True, encoding="utf-8",
                              timeout=SPEAK_TIMEOUT_S)

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            log.warning("%s", message)

"""TensorFlow's C++ output on descriptor 2: captured, and only the chatter dropped.

TensorFlow's C++ side (absl logging, the MLIR converter) writes straight to
file descriptor 2, past Python's ``sys.stderr``. At start-up that is a page of
notices ("All log messages before absl::InitializeLog() ...", oneDNN, CUDA
probes on a machine without a GPU, CPU features); ``TF_CPP_MIN_LOG_LEVEL``
no longer silences them (TF 2.21: absl writes before it reads any setting).
So the host commands import TensorFlow through ``import_tensorflow``, which
points descriptor 2 at a temporary file meanwhile and writes back every line
that is NOT one of those known notices: a real warning or error still shows.
The converter's pages of MLIR output are captured the same way
(``captured``) and quoted only when a conversion fails.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from typing import Iterator

# absl INFO lines ("I0000 00:00:1795610584.589136   24746 port.cc:153] ..."), its pre-initialisation warning, the
# CPU-feature advice, and the CUDA probe of a machine without a GPU.
CHATTER = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|I\d{4} [\d:.]+ +\d+ \S+:\d+\] "
    r"|E\d{4} [\d:.]+ +\d+ cuda_\w+\.cc:\d+\] failed call to cuInit"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.)"
)


def is_chatter(line: str) -> bool:
    return bool(CHATTER.match(line))


@contextlib.contextmanager
def captured(enabled: bool = True) -> Iterator[list[str]]:
    """Route descriptor 2 into a list of lines for the duration of the block (``enabled=False``: pass through)."""
    lines: list[str] = []
    if not enabled:
        yield lines
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable descriptor 2 (an embedded interpreter, a daemon): nothing to capture
        yield lines
        return
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines.extend(sink.read().decode("utf-8", "replace").splitlines())


def import_tensorflow(verbose: int = 0) -> None:
    """Import TensorFlow and Keras and let TensorFlow probe its devices, showing only what is not chatter.

    ``verbose`` > 0 (``-v``) shows everything.
    """
    if "tensorflow" in sys.modules and "keras" in sys.modules:
        return
    with captured(enabled=verbose <= 0) as lines:
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.list_physical_devices()  # the CUDA probe prints here, not at import
        # tf.data's first generator-backed dataset prints a malloc notice; Keras trains from one (PyDataset).
        for _ in tf.data.Dataset.from_generator(lambda: iter((0,)), output_signature=tf.TensorSpec((), tf.int32)):
            pass
    kept = [line for line in lines if not is_chatter(line)]
    if kept:
        sys.stderr.write("\n".join(kept) + "\n")
        sys.stderr.flush()

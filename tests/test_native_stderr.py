"""TensorFlow's C++ start-up chatter stays off the terminal; everything else on descriptor 2 still shows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from host.native_stderr import captured, is_chatter
from train.synth.config import SynthConfig
from train.synth.writer import make_dataset

CHATTER_LINES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1795610584.589136   24746 port.cc:153] oneDNN custom operations are on. You may see slightly",
    "I0000 00:00:1795610584.589456   24746 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will "
    "not be used.",
    "E0000 00:00:1795610587.301349   24746 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed "
    "call to cuInit: UNKNOWN ERROR (303)",
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the "
    "appropriate compiler flags.",
]
REAL_LINES = [
    "E0000 00:00:1795610587.301349   24746 op_kernel.cc:1830] OP_REQUIRES failed at conv_ops.cc:12 : INVALID_ARGUMENT",
    "W0000 00:00:1795610587.301349   24746 loader.cc:55] Could not load dynamic library 'libfoo.so'",
    "Traceback (most recent call last):",
]


def test_only_the_known_notices_count_as_chatter():
    assert all(is_chatter(line) for line in CHATTER_LINES)
    assert not any(is_chatter(line) for line in REAL_LINES)


def test_descriptor_2_is_captured_and_restored():
    with captured() as lines:
        os.write(2, ("\n".join(CHATTER_LINES + REAL_LINES) + "\n").encode())
    assert lines == CHATTER_LINES + REAL_LINES
    with captured(enabled=False) as passed:
        pass
    assert passed == []
    os.fstat(2)  # still open after the restore


def test_sign_train_shows_no_tensorflow_chatter_unless_verbose(tmp_path: Path):
    pytest.importorskip("keras")
    data = tmp_path / "data"
    make_dataset(data, SynthConfig(words=("무한", "미국"), signers=3, per_word=3, frames_min=20, frames_max=30))
    fast = ["--epochs", "1", "--min-epochs", "0", "--size", "width=8", "--size", "blocks=1", "-q"]

    def sign_train(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "train.cli.train", str(data), "-o", str(tmp_path / "run"), "--force",
                               *fast, *extra], capture_output=True, text=True, timeout=300)

    quiet = sign_train()
    assert quiet.returncode == 0, quiet.stderr
    assert not [line for line in quiet.stderr.splitlines() if is_chatter(line)], quiet.stderr
    assert "split by signer" in quiet.stderr  # the command's own lines still show
    verbose = sign_train("-v")
    assert verbose.returncode == 0 and any(is_chatter(line) for line in verbose.stderr.splitlines())

"""Run every exported file with the interpreter the device uses and hold it to its format's gate.

Files are opened by ``edge_runtime.model_file.open_model``, the device's own
opener (ai-edge-litert first for TFLite, onnxruntime for ONNX, int8 fed with the
file's own scale and zero point), with the thread count asked for (1 by
default, the honest number for a small board). Each file
is fed the held-out test recordings one at a time, exactly like the live
recogniser feeds it, and compared with the trained Keras model's probabilities.
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from edge_runtime.errors import SignedgeError
from edge_runtime.model_file import ModelRunner, TensorInfo, open_model
from edge_runtime.openset import unit
from export.formats import Format
from export.ops import forbidden_ops, op_counts

log = logging.getLogger(__name__)


@dataclass
class Verification:
    """One exported file measured against the Keras model: a row of the export table."""

    format: str
    file: str
    size_bytes: int
    convert_seconds: float
    runtime: str = ""
    n: int = 0
    agreement: float = float("nan")  # share of inputs whose argmax equals the Keras model's
    max_abs_diff: float = float("nan")  # max |p_file - p_keras| over inputs and classes
    accuracy: float = float("nan")  # argmax vs the true labels
    ms_per_sequence: float = float("nan")  # mean invoke time, one sequence, ``threads`` threads
    threads: int = 1
    ops: dict[str, int] = field(default_factory=dict)
    forbidden_ops: list[str] = field(default_factory=list)
    gate: str = ""
    passed: bool = False
    problems: list[str] = field(default_factory=list)
    input: TensorInfo | None = None
    output: TensorInfo | None = None
    # A model with an embedding output: cosine similarity of the file's embeddings to the Keras model's.
    embedding_cosine: float = float("nan")  # mean over the held-out inputs (gated: EMBEDDING_MIN_COSINE)
    embedding_cosine_min: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("agreement", "max_abs_diff", "accuracy", "ms_per_sequence", "embedding_cosine",
                    "embedding_cosine_min"):
            if not np.isfinite(data[key]):
                data[key] = None  # JSON has no NaN
        return data


EMBEDDING_MIN_COSINE = 0.99  # mean cosine similarity of a file's embeddings to the Keras model's (int8 included)


def _measure(run: ModelRunner, X: np.ndarray, desc: str,
             progress: bool) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Probabilities (and embeddings, when the file has them) for every input, and the mean milliseconds of one
    call after a warm-up call."""
    if len(X):
        run.run(X[:1])  # the first invoke allocates and packs weights (XNNPACK): not what a live device pays per sign
    probs, embs = [], []
    spent = 0.0
    for i in tqdm(range(len(X)), desc=desc, unit="seq", disable=not progress, leave=False):
        x = X[i:i + 1]
        start = time.perf_counter()
        y = run.run_all(x)
        spent += time.perf_counter() - start
        probs.append(np.asarray(y[run.output.name], dtype=np.float32).reshape(1, -1))
        if run.embedding is not None:
            embs.append(np.asarray(y[run.embedding.name], dtype=np.float32).reshape(1, -1))
    emb = np.concatenate(embs) if embs else None
    return np.concatenate(probs), emb, spent / max(len(X), 1) * 1000.0


def _embedding_check(row: Verification, emb: np.ndarray | None, reference: np.ndarray | None) -> None:
    """The file's embeddings against the Keras model's: cosine similarity, gated at EMBEDDING_MIN_COSINE."""
    if reference is None and emb is None:
        return
    if reference is None or emb is None or emb.shape != reference.shape:
        row.problems.append(f"embedding output {None if emb is None else list(emb.shape[1:])} differs from the "
                            f"Keras model's {None if reference is None else list(reference.shape[1:])}")
        return
    cos = (unit(emb) * unit(reference)).sum(axis=1)
    row.embedding_cosine, row.embedding_cosine_min = float(cos.mean()), float(cos.min())
    if row.embedding_cosine < EMBEDDING_MIN_COSINE:
        row.problems.append(f"embedding cosine to Keras {row.embedding_cosine:.4f} < {EMBEDDING_MIN_COSINE}")


def verify_file(path: Path, fmt: Format, X: np.ndarray, y: np.ndarray, reference: np.ndarray,
                convert_seconds: float = 0.0, threads: int = 1, min_agreement: float | None = None,
                progress: bool = False, reference_embedding: np.ndarray | None = None,
                ) -> tuple[Verification, np.ndarray | None, ModelRunner | None]:
    """Measure one exported file on (X, y) against the Keras probabilities ``reference`` (and embeddings
    ``reference_embedding``, for a model that has them) and apply its gate.

    Returns the row, the file's own probabilities (None when it did not run or
    gave another shape) and the opened file (None when it did not open), for a
    caller that goes on to use it the way the device does.
    """
    row = Verification(fmt.name, path.name, path.stat().st_size, round(convert_seconds, 2), runtime=fmt.runtime,
                       n=len(X), threads=threads, gate=fmt.gate_text(min_agreement))
    runner: ModelRunner | None = None
    try:
        if fmt.converter == "tflite":
            row.ops = op_counts(path)
            row.forbidden_ops = forbidden_ops(row.ops)
            if row.forbidden_ops:
                row.problems.append("not builtin-only: " + ", ".join(row.forbidden_ops))
        runner = open_model(path, threads)
        row.input, row.output, row.runtime = runner.input, runner.output, runner.runtime
        probs, emb, row.ms_per_sequence = _measure(runner, X, f"verify {fmt.name}", progress)
    except (SignedgeError, RuntimeError, ValueError) as err:  # interpreters raise RuntimeError/ValueError
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        row.problems.append(f"does not run on {fmt.runtime}: {first[:300]}")
        return row, None, runner
    if fmt.converter == "onnx":
        import onnx

        row.ops = onnx_op_counts(onnx.load(str(path)).graph)
    if probs.shape != reference.shape:
        row.problems.append(f"output shape {list(probs.shape[1:])} differs from Keras {list(reference.shape[1:])}")
        return row, None, runner
    row.agreement = float(np.mean(probs.argmax(1) == reference.argmax(1)))
    row.max_abs_diff = float(np.abs(probs - reference).max())
    row.accuracy = float(np.mean(probs.argmax(1) == y))
    threshold = fmt.min_agreement if min_agreement is None else min_agreement
    if row.agreement < threshold:
        row.problems.append(f"agreement {row.agreement:.1%} < {threshold:.0%}")
    if fmt.max_prob_diff is not None and row.max_abs_diff > fmt.max_prob_diff:
        row.problems.append(f"max |dp| {row.max_abs_diff:.2e} > {fmt.max_prob_diff:g}")
    _embedding_check(row, emb, reference_embedding)
    row.passed = not row.problems
    log.info("%s: %s, agreement %.3f, max |dp| %.2e, %.2f ms", fmt.name, "pass" if row.passed else "FAIL",
             row.agreement, row.max_abs_diff, row.ms_per_sequence)
    return row, probs, runner


def onnx_op_counts(graph: Any) -> dict[str, int]:
    """ONNX node types -> count, including the bodies of Loop/If/Scan nodes."""
    counts: collections.Counter[str] = collections.Counter()
    stack = [graph]
    while stack:
        g = stack.pop()
        for node in g.node:
            counts[node.op_type] += 1
            for attr in node.attribute:
                if attr.HasField("g"):
                    stack.append(attr.g)
                stack.extend(attr.graphs)
    return dict(sorted(counts.items()))

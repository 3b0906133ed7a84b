"""Run every exported file with the interpreter the device uses and hold it to its format's gate.

TFLite files go through ``edge_runtime.tflite.load_interpreter`` (ai-edge-litert
first, as on the device), ONNX files through onnxruntime; both with the thread
count asked for (1 by default, the honest number for a small board). Each file
is fed the held-out test recordings one at a time, exactly like the live
recogniser feeds it, and compared with the trained Keras model's probabilities.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from edge_runtime.errors import ModelError, SignedgeError
from edge_runtime.model_info import TensorInfo
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

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("agreement", "max_abs_diff", "accuracy", "ms_per_sequence"):
            if not np.isfinite(data[key]):
                data[key] = None  # JSON has no NaN
        return data


Runner = Callable[[np.ndarray], np.ndarray]


def _quantise(x: np.ndarray, info: TensorInfo) -> np.ndarray:
    limits = np.iinfo(np.dtype(info.dtype))
    return np.clip(np.round(x / info.scale) + info.zero_point, limits.min, limits.max).astype(info.dtype)


def _tensor_info(detail: dict[str, Any], name: str) -> TensorInfo:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return TensorInfo(name=name, shape=[int(d) for d in detail["shape"]], dtype=np.dtype(detail["dtype"]).name,
                      scale=float(scale), zero_point=int(zero_point))


def open_tflite(path: Path, threads: int) -> tuple[Runner, TensorInfo, TensorInfo, str]:
    """A float-in, float-out runner over the device interpreter, and the file's real I/O tensors."""
    from edge_runtime.tflite import load_interpreter

    interp, runtime = load_interpreter(path, threads=threads)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    in_info, out_info = _tensor_info(inp, inp["name"]), _tensor_info(out, out["name"])

    def run(x: np.ndarray) -> np.ndarray:
        if in_info.dtype != "float32":
            x = _quantise(x, in_info)
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        y = interp.get_tensor(out["index"])
        if out_info.dtype != "float32":
            y = (y.astype(np.float32) - out_info.zero_point) * out_info.scale
        return y

    return run, in_info, out_info, runtime


def open_onnx(path: Path, threads: int) -> tuple[Runner, TensorInfo, TensorInfo, str]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime's errors (Fail, InvalidProtobuf, ...) derive from Exception only
        raise ModelError(f"{path}: onnxruntime cannot load it ({str(err).strip()[:300]})") from err
    inp, out = session.get_inputs()[0], session.get_outputs()[0]

    def shape(dims: list[Any]) -> list[int]:
        return [int(d) if isinstance(d, int) else -1 for d in dims]

    in_info = TensorInfo(inp.name, shape(inp.shape), "float32")
    out_info = TensorInfo(out.name, shape(out.shape), "float32")

    def run(x: np.ndarray) -> np.ndarray:
        try:
            return session.run([out.name], {inp.name: x})[0]
        except Exception as err:  # see above
            raise ModelError(f"{path}: onnxruntime failed to run it ({str(err).strip()[:300]})") from err

    return run, in_info, out_info, "onnxruntime"


def _measure(run: Runner, X: np.ndarray, desc: str, progress: bool) -> tuple[np.ndarray, float]:
    """Probabilities for every input, and the mean milliseconds of one call after a warm-up call."""
    if len(X):
        run(X[:1])  # the first invoke allocates and packs weights (XNNPACK): not what a live device pays per sign
    probs = []
    spent = 0.0
    for i in tqdm(range(len(X)), desc=desc, unit="seq", disable=not progress, leave=False):
        x = X[i:i + 1]
        start = time.perf_counter()
        y = run(x)
        spent += time.perf_counter() - start
        probs.append(np.asarray(y, dtype=np.float32).reshape(1, -1))
    return np.concatenate(probs), spent / max(len(X), 1) * 1000.0


def verify_file(path: Path, fmt: Format, X: np.ndarray, y: np.ndarray, reference: np.ndarray,
                convert_seconds: float = 0.0, threads: int = 1, min_agreement: float | None = None,
                progress: bool = False) -> tuple[Verification, np.ndarray | None]:
    """Measure one exported file on (X, y) against the Keras probabilities ``reference`` and apply its gate.

    Returns the row and the file's own probabilities (None when it did not run).
    """
    row = Verification(fmt.name, path.name, path.stat().st_size, round(convert_seconds, 2), runtime=fmt.runtime,
                       n=len(X), threads=threads, gate=fmt.gate_text(min_agreement))
    try:
        if fmt.converter == "tflite":
            row.ops = op_counts(path)
            row.forbidden_ops = forbidden_ops(row.ops)
            if row.forbidden_ops:
                row.problems.append("not builtin-only: " + ", ".join(row.forbidden_ops))
        opener = open_onnx if fmt.converter == "onnx" else open_tflite
        run, row.input, row.output, row.runtime = opener(path, threads)
        probs, row.ms_per_sequence = _measure(run, X, f"verify {fmt.name}", progress)
    except (SignedgeError, RuntimeError, ValueError) as err:  # interpreters raise RuntimeError/ValueError
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        row.problems.append(f"does not run on {fmt.runtime}: {first[:300]}")
        return row, None
    if fmt.converter == "onnx":
        import onnx

        row.ops = onnx_op_counts(onnx.load(str(path)).graph)
    if probs.shape != reference.shape:
        row.problems.append(f"output shape {list(probs.shape[1:])} differs from Keras {list(reference.shape[1:])}")
        return row, None
    row.agreement = float(np.mean(probs.argmax(1) == reference.argmax(1)))
    row.max_abs_diff = float(np.abs(probs - reference).max())
    row.accuracy = float(np.mean(probs.argmax(1) == y))
    threshold = fmt.min_agreement if min_agreement is None else min_agreement
    if row.agreement < threshold:
        row.problems.append(f"agreement {row.agreement:.1%} < {threshold:.0%}")
    if fmt.max_prob_diff is not None and row.max_abs_diff > fmt.max_prob_diff:
        row.problems.append(f"max |dp| {row.max_abs_diff:.2e} > {fmt.max_prob_diff:g}")
    row.passed = not row.problems
    log.info("%s: %s, agreement %.3f, max |dp| %.2e, %.2f ms", fmt.name, "pass" if row.passed else "FAIL",
             row.agreement, row.max_abs_diff, row.ms_per_sequence)
    return row, probs


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

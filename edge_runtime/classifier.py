"""The sign classifier on the device: one ``predict(features) -> probabilities`` over TFLite or ONNX.

The exported model is self-describing through its sidecar (labels, feature
spec, T, input/output quantisation), so the device never guesses: a model
made for another feature spec is refused before it can silently mis-read the
features, and an int8 model is fed and read with its own scale and zero point.
TensorFlow is never imported: ``.tflite`` goes through ``edge_runtime.tflite``
(ai_edge_litert, then tflite_runtime) and ``.onnx`` through onnxruntime,
imported only when an ONNX model is opened.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edge_runtime.errors import ModelError
from edge_runtime.model_info import ModelInfo, TensorInfo, read_model_info
from edge_runtime.spec import FeatureSpec, check_same

log = logging.getLogger(__name__)

SUFFIXES = (".tflite", ".onnx")
_SUM_TOLERANCE = 0.05  # an int8 softmax dequantises to a sum within a few percent of 1


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _quantise(x: np.ndarray, dtype: np.dtype, scale: float, zero_point: int) -> np.ndarray:
    """Float features to an integer tensor, as the converter's calibration defined it."""
    info = np.iinfo(dtype)
    q = np.round(x / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def _to_probabilities(raw: np.ndarray) -> np.ndarray:
    """A model's output as probabilities: a softmax output is renormalised, logits are soft-maxed.

    Exported classifiers end in softmax, but an int8 softmax dequantises to a
    sum that is only close to 1; renormalising keeps confidences comparable
    across formats. An output that is clearly not a distribution gets a softmax.
    """
    raw = raw.astype(np.float64)
    total = float(raw.sum())
    if (raw >= 0).all() and abs(total - 1.0) <= _SUM_TOLERANCE:
        return (raw / total).astype(np.float32)
    shifted = np.exp(raw - raw.max())
    return (shifted / shifted.sum()).astype(np.float32)


def _quant_params(detail: dict[str, Any], fallback: TensorInfo) -> tuple[float, int]:
    """(scale, zero point) from the interpreter's tensor details, else from the sidecar."""
    scale, zero_point = detail.get("quantization", (0.0, 0))
    if scale:
        return float(scale), int(zero_point)
    return float(fallback.scale), int(fallback.zero_point)


class Classifier:
    """An exported sign classifier: ``predict(features [T, F]) -> probabilities [C]``.

    Use :func:`load_classifier`; it checks the sidecar against the runtime and the model file.
    """

    def __init__(self, path: Path, info: ModelInfo, runtime: str, invoke: Callable[[np.ndarray], np.ndarray],
                 input_dtype: np.dtype, input_quant: tuple[float, int], output_quant: tuple[float, int]) -> None:
        self.path = path
        self.info = info
        self.runtime = runtime
        self._invoke = invoke
        self._input_dtype = np.dtype(input_dtype)
        self._input_quant = input_quant
        self._output_quant = output_quant
        self.last_invoke_ms = 0.0

    @property
    def labels(self) -> list[str]:
        return self.info.labels

    @property
    def spec(self) -> FeatureSpec:
        return self.info.spec

    @property
    def frames(self) -> int:
        """T: the number of frames every input is resampled to."""
        return self.info.spec.frames

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities [C] for one sign's features [T, F]; times the invoke in ``last_invoke_ms``."""
        features = np.asarray(features, dtype=np.float32)
        expected = (self.frames, self.spec.num_features)
        if features.shape != expected:
            raise ValueError(f"features must have shape {list(expected)}, got {list(features.shape)}")
        x = features[None]
        if self._input_dtype.kind in "iu":
            x = _quantise(x, self._input_dtype, *self._input_quant)
        start = time.perf_counter()
        raw = np.asarray(self._invoke(x)).reshape(-1)
        self.last_invoke_ms = (time.perf_counter() - start) * 1000.0
        if raw.dtype.kind in "iu":
            scale, zero_point = self._output_quant
            raw = (raw.astype(np.float32) - zero_point) * scale
        return _to_probabilities(raw)


def _check_info(path: Path, info: ModelInfo, expected: FeatureSpec | None) -> None:
    if expected is not None:
        check_same(expected, info.spec, f"model {path.name}")
    want = [1, info.spec.frames, info.spec.num_features]
    shape = list(info.input.shape)
    if len(shape) != 3 or shape[1:] != want[1:]:
        raise ModelError(f"{path}: sidecar input shape {shape} does not match its feature spec "
                         f"{info.spec.id} with T={info.spec.frames} (expected {want})")
    if len(info.labels) < 2:
        raise ModelError(f"{path}: sidecar lists {len(info.labels)} label(s); a classifier needs at least 2")
    if info.output.shape and int(info.output.shape[-1]) != len(info.labels):
        raise ModelError(f"{path}: sidecar output shape {info.output.shape} does not match its "
                         f"{len(info.labels)} labels")


def _check_tensor(path: Path, what: str, shape: list[int], sidecar: list[int]) -> None:
    """The model's real tensor shape must agree with the sidecar (dynamic dims, -1/None/0, match anything)."""
    if len(shape) != len(sidecar):
        raise ModelError(f"{path}: {what} tensor has shape {shape}, the sidecar says {sidecar}")
    for real, side in zip(shape, sidecar):
        dynamic = real is None or not isinstance(real, (int, np.integer)) or real <= 0
        if not dynamic and side > 0 and int(real) != int(side):
            raise ModelError(f"{path}: {what} tensor has shape {shape}, the sidecar says {sidecar} "
                             "(was the sidecar written for another model?)")


def _open_tflite(path: Path, info: ModelInfo, threads: int | None) -> Classifier:
    from edge_runtime.tflite import load_interpreter

    interp, runtime = load_interpreter(path, threads=threads)
    inputs, outputs = interp.get_input_details(), interp.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(f"{path}: expected one input and one output tensor, found {len(inputs)} and {len(outputs)}")
    inp, out = inputs[0], outputs[0]
    _check_tensor(path, "input", [int(d) for d in inp["shape"]], info.input.shape)
    _check_tensor(path, "output", [int(d) for d in out["shape"]], info.output.shape)
    in_index, out_index = inp["index"], out["index"]

    def invoke(x: np.ndarray) -> np.ndarray:
        interp.set_tensor(in_index, x)
        interp.invoke()
        return interp.get_tensor(out_index)

    return Classifier(path, info, runtime, invoke, np.dtype(inp["dtype"]), _quant_params(inp, info.input),
                      _quant_params(out, info.output))


_ONNX_TYPES = {"tensor(float)": np.float32, "tensor(int8)": np.int8, "tensor(uint8)": np.uint8}


def _open_onnx(path: Path, info: ModelInfo, threads: int | None) -> Classifier:
    try:
        import onnxruntime as ort
    except ImportError as err:
        raise ModelError(f"{path}: ONNX models need onnxruntime (pip install onnxruntime)") from err
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    options.log_severity_level = 3  # the runtime's own warnings are not the user's problem
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types (InvalidProtobuf, Fail, ...)
        raise ModelError(f"{path}: not a usable ONNX model ({_first_line(err)})") from err
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(f"{path}: expected one input and one output, found {len(inputs)} and {len(outputs)}")
    inp, out = inputs[0], outputs[0]
    if inp.type not in _ONNX_TYPES:
        raise ModelError(f"{path}: unsupported input type {inp.type}")
    _check_tensor(path, "input", list(inp.shape), info.input.shape)
    _check_tensor(path, "output", list(out.shape), info.output.shape)
    in_name = inp.name

    def invoke(x: np.ndarray) -> np.ndarray:
        return session.run(None, {in_name: x})[0]

    input_dtype = np.dtype(_ONNX_TYPES[inp.type])
    quant_in = (float(info.input.scale), int(info.input.zero_point))
    if input_dtype.kind in "iu" and not quant_in[0]:
        raise ModelError(f"{path}: integer input but the sidecar gives no input scale")
    return Classifier(path, info, "onnxruntime", invoke, input_dtype, quant_in,
                      (float(info.output.scale), int(info.output.zero_point)))


def load_classifier(path: str | Path, threads: int | None = None,
                    expected_spec: FeatureSpec | None = None) -> Classifier:
    """Open an exported model and its sidecar, refusing anything this runtime cannot feed correctly.

    ``expected_spec``: refuse a model made for another feature spec (None: any spec this runtime knows;
    whether the device pipeline can compute it is the recognizer's check).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    if path.suffix.lower() not in SUFFIXES:
        raise ModelError(f"{path}: unknown model format {path.suffix or '(no suffix)'!r} "
                         f"(expected {' or '.join(SUFFIXES)})")
    info = read_model_info(path)
    _check_info(path, info, expected_spec)
    if path.suffix.lower() == ".tflite":
        clf = _open_tflite(path, info, threads)
    else:
        clf = _open_onnx(path, info, threads)
    try:  # warm-up: the first invoke plans its kernels; it also proves the model runs at all
        clf.predict(np.zeros((clf.frames, clf.spec.num_features), np.float32))
    except Exception as err:  # interpreter and onnxruntime failures have runtime-specific types
        raise ModelError(f"{path}: the model fails on a test input ({_first_line(err)})") from err
    clf.last_invoke_ms = 0.0
    log.info("classifier %s: %d labels, %s, T=%d, input %s, runtime %s", path.name, len(info.labels),
             info.spec.id, info.spec.frames, clf._input_dtype.name, clf.runtime)
    return clf


def landmark_mismatch(info: ModelInfo, backend: str, model_sha256: str) -> str | None:
    """A one-line warning when the model was trained on another landmark backend or hand model, else None.

    Different detectors place points slightly differently; the model may still
    work, so this warns instead of refusing.
    """
    problems = []
    if info.landmark_backend and backend and info.landmark_backend != backend:
        problems.append(f"its training data came from the {info.landmark_backend!r} landmark backend, "
                        f"this run uses {backend!r}")
    if info.landmark_model_sha256 and model_sha256 and info.landmark_model_sha256 != model_sha256:
        problems.append(f"its hand model sha256 {info.landmark_model_sha256[:12]}… differs from the one in use "
                        f"({model_sha256[:12]}…)")
    if not problems:
        return None
    return "model card: " + "; ".join(problems) + " (accuracy may drop)"

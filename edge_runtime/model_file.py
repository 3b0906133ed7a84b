"""The one way to open an exported classifier file: ``open_model(path, threads) -> ModelRunner``.

The device (``edge_runtime.classifier``), export's verification
(``export.verify``) and the cross-validation export check all open files here,
so the numbers export verifies are the numbers the device computes: the same
interpreter (``.tflite`` through ``edge_runtime.tflite.load_interpreter``:
ai_edge_litert, then tflite_runtime, then tensorflow.lite; ``.onnx`` through
onnxruntime, imported only when an ONNX file is opened), the same thread
setting, and the same int8 feeding, taken from the file's REAL tensors (scale
and zero point as the converter wrote them, never from a description that
could belong to another file).

The runner also hands out the file's embedded metadata (TFLite ``Model.metadata``
entries, ONNX ``metadata_props``), read without TensorFlow: the TFLite
flatbuffer is walked by the small reader below, which needs neither the
``flatbuffers`` package nor a generated schema (``tflite_runtime`` ships none).
"""

from __future__ import annotations

import logging
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edge_runtime.errors import ModelError

log = logging.getLogger(__name__)

SUFFIXES = (".tflite", ".onnx")


@dataclass
class TensorInfo:
    """One input or output tensor as the file declares it."""

    name: str
    shape: list[int]  # -1 for a dimension the file leaves dynamic
    dtype: str  # numpy dtype name: float32, int8, uint8
    scale: float = 0.0  # quantisation; 0 when the tensor is float
    zero_point: int = 0

    @property
    def quantised(self) -> bool:
        return np.dtype(self.dtype).kind in "iu"


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


PROBABILITIES, EMBEDDING = "probabilities", "embedding"  # output names of a model with an embedding


class ModelRunner:
    """An opened model file: its real tensors, its embedded metadata, and ``run(x)`` float in, float out.

    ``run`` quantises a float input to an integer input tensor with the tensor's
    own scale and zero point and dequantises an integer output the same way, so
    callers always see float32. ``last_invoke_ms`` times the interpreter call alone.

    A file has one output (the class probabilities) or two named ``probabilities``
    and ``embedding`` (a model with a cosine head); ``output`` is always the
    probabilities, ``embedding`` the other one or None, and ``run_all`` returns both.
    """

    def __init__(self, path: Path, runtime: str, input: TensorInfo, outputs: list[TensorInfo],
                 invoke: Callable[[np.ndarray], list[np.ndarray]], metadata: dict[str, bytes]) -> None:
        self.path = path
        self.runtime = runtime
        self.input = input
        self.outputs = outputs
        self.output, self.embedding = _roles(path, outputs)
        self.metadata = metadata  # embedded name -> raw bytes
        self._invoke = invoke
        self.last_invoke_ms = 0.0

    def run_all(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Every output for a batch ``x`` (float32, the input tensor's shape), by name, dequantised to float32."""
        x = np.asarray(x, dtype=np.float32)
        if self.input.quantised:
            x = quantise(x, self.input)
        start = time.perf_counter()
        ys = [np.asarray(y) for y in self._invoke(x)]
        self.last_invoke_ms = (time.perf_counter() - start) * 1000.0
        out = {}
        for tensor, y in zip(self.outputs, ys):
            if tensor.quantised:
                y = (y.astype(np.float32) - tensor.zero_point) * tensor.scale
            out[tensor.name] = y
        return out

    def run(self, x: np.ndarray) -> np.ndarray:
        """The class probabilities for a batch ``x``, dequantised to float32."""
        return self.run_all(x)[self.output.name]


def _roles(path: Path, outputs: list[TensorInfo]) -> tuple[TensorInfo, TensorInfo | None]:
    """(probabilities, embedding or None); two outputs must be the two named ones."""
    if len(outputs) == 1:
        return outputs[0], None
    names = sorted(t.name for t in outputs)
    if names != sorted((PROBABILITIES, EMBEDDING)):
        raise ModelError(f"{path}: a model with two outputs must name them {PROBABILITIES!r} and {EMBEDDING!r}, "
                         f"found {', '.join(repr(n) for n in names)}")
    by_name = {t.name: t for t in outputs}
    return by_name[PROBABILITIES], by_name[EMBEDDING]


def quantise(x: np.ndarray, tensor: TensorInfo) -> np.ndarray:
    """Float values to an integer tensor, as the converter's calibration defined it."""
    limits = np.iinfo(np.dtype(tensor.dtype))
    q = np.round(x / tensor.scale) + tensor.zero_point
    return np.clip(q, limits.min, limits.max).astype(tensor.dtype)


def open_model(path: str | Path, threads: int | None = None) -> ModelRunner:
    """Open a ``.tflite`` or ``.onnx`` file with the runtime the device uses; anything unusable is one ModelError line.

    ``threads``: interpreter threads (None: the runtime's own choice).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ModelError(f"{path}: unknown model format {path.suffix or '(no suffix)'!r} "
                         f"(expected {' or '.join(SUFFIXES)})")
    runner = _open_tflite(path, threads) if suffix == ".tflite" else _open_onnx(path, threads)
    for tensor, what in [(runner.input, "input")] + [(t, "output") for t in runner.outputs]:
        if tensor.quantised and not tensor.scale:
            raise ModelError(f"{path}: integer {what} tensor without a quantisation scale")
    return runner


def _one_each(path: Path, inputs: list[Any], outputs: list[Any]) -> None:
    if len(inputs) != 1 or len(outputs) not in (1, 2):
        raise ModelError(f"{path}: expected one input and one or two output tensors, found {len(inputs)} and "
                         f"{len(outputs)}")


def _tflite_tensor(detail: dict[str, Any]) -> TensorInfo:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return TensorInfo(name=str(detail["name"]), shape=[int(d) for d in detail["shape"]],
                      dtype=np.dtype(detail["dtype"]).name, scale=float(scale), zero_point=int(zero_point))


def _open_tflite(path: Path, threads: int | None) -> ModelRunner:
    from edge_runtime.tflite import load_interpreter

    interp, runtime = load_interpreter(path, threads=threads)
    inputs, outputs = interp.get_input_details(), interp.get_output_details()
    _one_each(path, inputs, outputs)
    in_index, out_indices = inputs[0]["index"], [o["index"] for o in outputs]

    def invoke(x: np.ndarray) -> list[np.ndarray]:
        interp.set_tensor(in_index, x)
        interp.invoke()
        return [interp.get_tensor(i) for i in out_indices]

    metadata = tflite_metadata(path.read_bytes(), str(path))
    return ModelRunner(path, runtime, _tflite_tensor(inputs[0]), [_tflite_tensor(o) for o in outputs], invoke,
                       metadata)


_ONNX_TYPES = {"tensor(float)": "float32"}  # ONNX records no scale for integer I/O: export writes float I/O


def _onnx_tensor(path: Path, arg: Any, what: str) -> TensorInfo:
    if arg.type not in _ONNX_TYPES:
        raise ModelError(f"{path}: unsupported {what} type {arg.type} (expected float I/O)")
    shape = [int(d) if isinstance(d, (int, np.integer)) and d > 0 else -1 for d in arg.shape]
    return TensorInfo(name=arg.name, shape=shape, dtype=_ONNX_TYPES[arg.type])


def _open_onnx(path: Path, threads: int | None) -> ModelRunner:
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
    _one_each(path, inputs, outputs)
    in_name, out_names = inputs[0].name, [o.name for o in outputs]

    def invoke(x: np.ndarray) -> list[np.ndarray]:
        try:
            return session.run(out_names, {in_name: x})
        except Exception as err:  # see above
            raise ModelError(f"{path}: onnxruntime failed to run it ({_first_line(err)[:300]})") from err

    metadata = {k: v.encode("utf-8") for k, v in session.get_modelmeta().custom_metadata_map.items()}
    return ModelRunner(path, "onnxruntime", _onnx_tensor(path, inputs[0], "input"),
                       [_onnx_tensor(path, o, "output") for o in outputs], invoke, metadata)


# --- the TFLite flatbuffer, just enough of it to read Model.metadata --------------------------------------------
# schema.fbs: Model { version, operator_codes, subgraphs, description, buffers (4), metadata_buffer, metadata (6) }
#             Metadata { name: string (0), buffer: uint (1) }    Buffer { data: [ubyte] (0), offset: ulong (1),
#             size: ulong (2) }  (offset/size: the data lives after the flatbuffer, in files over 2 GB)
_MODEL_BUFFERS, _MODEL_METADATA = 4, 6


class _Flatbuffer:
    """Bounds-checked reads of flatbuffer tables, vectors and strings (little-endian, as the format defines)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def _unpack(self, fmt: str, pos: int) -> int:
        if pos < 0 or pos + struct.calcsize(fmt) > len(self.data):
            raise ValueError(f"offset {pos} outside the file")
        return struct.unpack_from(fmt, self.data, pos)[0]

    def field(self, table: int, index: int) -> int | None:
        """Absolute position of field ``index`` of the table at ``table``, or None when it is absent."""
        vtable = table - self._unpack("<i", table)
        slot = 4 + 2 * index
        if slot >= self._unpack("<H", vtable):
            return None
        offset = self._unpack("<H", vtable + slot)
        return table + offset if offset else None

    def deref(self, pos: int) -> int:
        return pos + self._unpack("<I", pos)

    def tables(self, table: int, index: int) -> list[int]:
        """The tables of a vector-of-tables field (empty when absent)."""
        pos = self.field(table, index)
        if pos is None:
            return []
        start = self.deref(pos)
        return [self.deref(start + 4 + 4 * i) for i in range(self._unpack("<I", start))]

    def blob(self, pos: int) -> bytes:
        """A string or [ubyte] vector that ``pos`` refers to."""
        start = self.deref(pos)
        end = start + 4 + self._unpack("<I", start)
        if end > len(self.data):
            raise ValueError("a vector runs past the end of the file")
        return self.data[start + 4:end]

    def scalar(self, table: int, index: int, fmt: str) -> int:
        pos = self.field(table, index)
        return 0 if pos is None else self._unpack(fmt, pos)


def tflite_metadata(data: bytes, where: str = "model") -> dict[str, bytes]:
    """The ``Model.metadata`` entries of a ``.tflite`` file: name -> the bytes of its buffer.

    A file that is not a TFLite flatbuffer has none ({}): the interpreter is the
    one that says so. A TFLite file whose metadata points outside it is a ModelError.
    """
    if len(data) < 8 or data[4:8] != b"TFL3":
        return {}
    fb = _Flatbuffer(data)
    try:
        model = fb.deref(0)
        buffers = fb.tables(model, _MODEL_BUFFERS)
        found = {}
        for entry in fb.tables(model, _MODEL_METADATA):
            name_pos = fb.field(entry, 0)
            name = fb.blob(name_pos).decode("utf-8", "replace") if name_pos is not None else ""
            buffer = buffers[fb.scalar(entry, 1, "<I")]
            data_pos = fb.field(buffer, 0)
            if data_pos is not None:
                found[name] = fb.blob(data_pos)
            else:  # stored after the flatbuffer
                offset, size = fb.scalar(buffer, 1, "<Q"), fb.scalar(buffer, 2, "<Q")
                if offset + size > len(data):
                    raise ValueError(f"metadata {name!r} runs past the end of the file")
                found[name] = data[offset:offset + size]
        return found
    except (ValueError, IndexError, struct.error) as err:
        raise ModelError(f"{where}: corrupt TFLite metadata ({err})") from err

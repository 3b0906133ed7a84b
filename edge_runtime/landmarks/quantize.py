"""Derived hand bundles: float16 compute (``f16``) and int8 (``int8``) versions of a float ``.task``.

Why these routes (measured in ``experiments/landmark_quant_spike.md``):

- MediaPipe's models already store float16 weights (one DEQUANTIZE op per
  weight) and say ``reduced_precision_support = fp16accfp32``, which keeps
  XNNPACK in float32. ``f16`` rewrites only that value to ``fp16accfp16``
  (the same number of bytes, patched in place): XNNPACK then computes in
  float16 where the CPU has FP16 arithmetic (ARMv8.2: the Pi 5's Cortex-A76)
  and in float32 elsewhere (the Pi 4's A72, x86), where the file behaves
  exactly like the float one.
- ``int8``: the TFLite converter cannot re-quantize a ``.tflite`` (it needs
  the SavedModel MediaPipe does not publish); Google's ai-edge-quantizer
  can, and runs on the same LiteRT/XNNPACK the device already uses (the
  onnxruntime route was slower: palm 0.56x). The float16 weights are first
  folded back to float32 constants (:func:`unfold_fp16`), then every op is
  quantized to int8 weights and activations (``static_wi8_ai8``) with
  float32 graph inputs and outputs (one QUANTIZE op at the input; the device
  code is unchanged). In the landmark model the four output heads and the
  pooling before them stay float: the heads are a tiny part of the work and
  float heads halve the error of the presence and handedness scores.

Both are deterministic: the same float bundle and calibration inputs give
the same bytes (``sign-models`` records the sha256 of each model).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from edge_runtime.errors import ModelError
from edge_runtime.files import atomic_path, write_json
from edge_runtime.landmarks.calibration import CalibrationSet, collect
from edge_runtime.landmarks.task_file import DETECTOR, LANDMARKER, ZipLayout, read_task, stored_zip

log = logging.getLogger(__name__)

PRECISION_KEY = b"reduced_precision_support"
FP32_ACCUMULATION, FP16_ACCUMULATION = b"fp16accfp32", b"fp16accfp16"
QUANTIZER = "ai-edge-quantizer"
# Ops of the landmark model left in float (regexes over the ops' output tensor names): the presence,
# handedness, landmark and world-landmark heads (FULLY_CONNECTED, LOGISTIC) and the pooling they read.
LANDMARK_FLOAT_SCOPES = (r"conv_handedness|conv_handflag|^Identity", r"global_average_pooling2d")
PALM_FLOAT_SCOPES: tuple[str, ...] = ()
INSTALL_HINT = "pip install 'signedge[quantize]'"


@dataclass(frozen=True)
class Recipe:
    """How one model is quantized: the base recipe and the op scopes left in float32."""

    base: str
    float_scopes: tuple[str, ...]

    def describe(self) -> dict[str, Any]:
        return {"base": self.base, "float_scopes": list(self.float_scopes), "inputs_outputs": "float32"}


LANDMARK_RECIPE = Recipe("static_wi8_ai8", LANDMARK_FLOAT_SCOPES)
PALM_RECIPE = Recipe("static_wi8_ai8", PALM_FLOAT_SCOPES)


def quantizer_version() -> str:
    try:
        return version(QUANTIZER)
    except PackageNotFoundError:
        raise ModelError(f"building int8 hand models needs {QUANTIZER}: {INSTALL_HINT}") from None


def mark_fp16_compute(content: bytes, what: str) -> bytes:
    """``content`` with its ``reduced_precision_support`` metadata saying float16 accumulation."""
    hits = content.count(FP32_ACCUMULATION)
    if hits != 1 or PRECISION_KEY not in content:
        raise ModelError(f"{what}: expected one '{FP32_ACCUMULATION.decode()}' precision entry (MediaPipe's float16 "
                         f"models carry it), found {hits}")
    return content.replace(FP32_ACCUMULATION, FP16_ACCUMULATION)


def unfold_fp16(content: bytes) -> bytes:
    """The same graph with its float16 constants as float32 (no DEQUANTIZE ops) and a ``serving_default`` signature.

    ai-edge-quantizer wants float32 constant weights and a signature; the
    result computes exactly what the float16-weight file computes (XNNPACK
    widens those weights to float32 when it loads them). Unused tensors are
    dropped and indices renumbered; orphaned float16 buffers are emptied.
    """
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils as fbu

    model = fbu.convert_bytearray_to_object(bytearray(content))
    graph = model.subgraphs[0]
    dequantize = {i for i, code in enumerate(model.operatorCodes)
                  if max(code.builtinCode, code.deprecatedBuiltinCode) == schema.BuiltinOperator.DEQUANTIZE}
    kept = []
    for op in graph.operators:
        source = graph.tensors[op.inputs[0]]
        data = model.buffers[source.buffer].data if op.opcodeIndex in dequantize else None
        if data is not None and len(data) and source.type == schema.TensorType.FLOAT16:
            weights = np.frombuffer(np.asarray(data, np.uint8).tobytes(), np.float16).astype(np.float32)
            buffer = schema.BufferT()
            buffer.data = np.frombuffer(weights.tobytes(), np.uint8)
            model.buffers.append(buffer)
            graph.tensors[op.outputs[0]].buffer = len(model.buffers) - 1
            continue
        kept.append(op)
    graph.operators = kept
    used = sorted({t for op in kept for t in [*op.inputs, *op.outputs] if t >= 0} | set(graph.inputs)
                  | set(graph.outputs))
    renumber = {old: new for new, old in enumerate(used)}
    graph.tensors = [graph.tensors[t] for t in used]
    for op in kept:
        op.inputs = [renumber[t] if t >= 0 else t for t in op.inputs]
        op.outputs = [renumber[t] for t in op.outputs]
    graph.inputs = [renumber[t] for t in graph.inputs]
    graph.outputs = [renumber[t] for t in graph.outputs]
    live = {t.buffer for t in graph.tensors}
    for i, buffer in enumerate(model.buffers):
        if i and i not in live:
            buffer.data = None

    def tensor_map(index: int) -> Any:
        entry = schema.TensorMapT()
        name = graph.tensors[index].name
        entry.name = name.decode() if isinstance(name, bytes) else name
        entry.tensorIndex = index
        return entry

    signature = schema.SignatureDefT()
    signature.signatureKey = "serving_default"
    signature.subgraphIndex = 0
    signature.inputs = [tensor_map(t) for t in graph.inputs]
    signature.outputs = [tensor_map(t) for t in graph.outputs]
    model.signatureDefs = [signature]
    return bytes(fbu.convert_object_to_bytearray(model))


def quantize_int8(float_model: bytes, inputs: list[np.ndarray], recipe: Recipe, what: str) -> bytes:
    """int8 weights and activations (``recipe``), calibrated on ``inputs`` ([S, S, 3] float32 each)."""
    quantizer_version()
    if not inputs:
        raise ModelError(f"{what}: no calibration inputs")
    from ai_edge_quantizer import quantizer
    from ai_edge_quantizer import recipe as recipes
    from ai_edge_quantizer.algorithm_manager import AlgorithmName
    from ai_edge_quantizer.qtyping import TFLOperationName

    unfolded = unfold_fp16(float_model)
    job = quantizer.Quantizer(bytearray(unfolded))
    job.load_quantization_recipe(getattr(recipes, recipe.base)())
    for end in (TFLOperationName.INPUT, TFLOperationName.OUTPUT):  # float32 in and out: the device code is unchanged
        job.update_quantization_recipe(".*", end, algorithm_key=AlgorithmName.NO_QUANTIZE)
    for scope in recipe.float_scopes:
        job.update_quantization_recipe(scope, TFLOperationName.ALL_SUPPORTED, algorithm_key=AlgorithmName.NO_QUANTIZE)
    input_name = _signature_input(unfolded)
    log.info("%s: calibrating on %d inputs", what, len(inputs))
    with contextlib.redirect_stdout(io.StringIO()) as said:  # the quantizer prints sizes to stdout: log them
        ranges = job.calibrate({"serving_default": [{input_name: x[None]} for x in inputs]}, num_threads=1)
        quantized = bytes(job.quantize(ranges).quantized_model)
    log.info("%s: %s", what, " ".join(said.getvalue().split()))
    return quantized


def _signature_input(content: bytes) -> str:
    """The signature's input name, read in place (the lazy flatbuffer reader: no unpacking of the weights)."""
    from ai_edge_litert import schema_py_generated as schema

    name = schema.Model.GetRootAsModel(content, 0).SignatureDefs(0).Inputs(0).Name()
    return name.decode() if isinstance(name, bytes) else name


def derive(detector: bytes, landmarker: bytes, precision: str,
           calibration: CalibrationSet | None = None) -> tuple[bytes, bytes, dict[str, Any]]:
    """The two models of ``precision`` derived from the float ones, and how they were made (for the record)."""
    if precision == "f16":
        return (mark_fp16_compute(detector, "hand detector"), mark_fp16_compute(landmarker, "hand landmark model"),
                {"method": "reduced_precision_support fp16accfp32 -> fp16accfp16 (XNNPACK float16 compute "
                           "where the CPU has FP16 arithmetic)"})
    if precision != "int8":
        raise ModelError(f"no derived bundle for precision {precision!r} (f16 or int8)")
    if calibration is None:
        raise ModelError("int8 hand models need calibration videos (--calibration)")
    how = {"method": f"{QUANTIZER} {quantizer_version()} on the float16 weights unfolded to float32",
           "detector": PALM_RECIPE.describe(), "landmarker": LANDMARK_RECIPE.describe(),
           "calibration": calibration.describe()}
    palm = quantize_int8(detector, calibration.palm, PALM_RECIPE, "hand detector")
    hand = quantize_int8(landmarker, calibration.landmarks, LANDMARK_RECIPE, "hand landmark model")
    return palm, hand, how


# A derived bundle is a stored zip with fixed headers (mode 0644, 2026-01-01 00:00), so its bytes depend only
# on the two models inside.
DERIVED_LAYOUT = ZipLayout(made_by=(3 << 8) | 20, needed=20, external_attr=0o100644 << 16, dos_time=0,
                           dos_date=((2026 - 1980) << 9) | (1 << 5) | 1)


@dataclass(frozen=True)
class DerivedBundle:
    content: bytes
    record: dict[str, Any]  # what it was made from and how: written next to the bundle as JSON


def derive_bundle(float_task: str | Path, precision: str, calibration: Sequence[Path] = (),
                  progress: bool = False) -> DerivedBundle:
    """A ``precision`` bundle from the float bundle ``float_task`` (int8: calibrated on ``calibration`` videos)."""
    source = read_task(float_task)
    if precision == "int8":
        quantizer_version()  # before minutes of calibration: is the quantizer there at all?
        if not calibration:
            raise ModelError("int8 hand models need calibration videos (--calibration VIDEO|FOLDER ...)")
        inputs = collect(source.path, list(calibration), progress=progress)
    else:
        inputs = None
    detector, landmarker, how = derive(source.detector, source.landmarker, precision, inputs)
    content = stored_zip([(DETECTOR, detector), (LANDMARKER, landmarker)], DERIVED_LAYOUT)
    record = {"precision": precision, "sha256": hashlib.sha256(content).hexdigest(),
              "detector_sha256": hashlib.sha256(detector).hexdigest(),
              "landmarker_sha256": hashlib.sha256(landmarker).hexdigest(),
              "source": {"file": source.path.name, "sha256": source.sha256}, **how}
    return DerivedBundle(content, record)


def record_path(bundle: str | Path) -> Path:
    """Where the record of a derived bundle lives: ``hand_landmarker_int8.task.json``."""
    path = Path(bundle)
    return path.with_name(path.name + ".json")


def write_derived(out: str | Path, bundle: DerivedBundle) -> None:
    """The bundle and its record, each written whole or not at all; the bundle is checked to open first."""
    out = Path(out)
    with atomic_path(out) as tmp:
        tmp.write_bytes(bundle.content)
        read_task(tmp)
    write_json(record_path(out), bundle.record)


def read_record(bundle: str | Path) -> dict[str, Any] | None:
    """The record ``sign-models`` wrote next to a derived bundle, or None (a float or foreign bundle)."""
    path = record_path(bundle)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelError(f"{path}: unreadable bundle record ({err})") from err
    return record if isinstance(record, dict) else None

"""Convert the batch-1 rebuild of a trained model to each format's bytes (TFLite or ONNX).

The TFLite path, and why. Measured with TensorFlow 2.21 / Keras 3.15 / ai-edge-litert
2.3 on a 2-layer BiLSTM(64) + attention + dense model (T=64, F=116, untrained),
1 thread, this project's 2-core x86 host; a run's own figures are in its
``export_report.json``:

1. **Chosen: unrolled static rebuild (``export.rebuild``) -> ``model.export(format=
   "tf_saved_model")`` -> ``TFLiteConverter.from_saved_model``.** Builtin ops only,
   float32 equal to Keras (max |dp| 1.5e-8), int8 calibrates, and int8 and
   dynamic-range are the fastest files of every path (0.4 ms per sequence vs
   1.6 ms float32: XNNPACK runs the whole unrolled graph as one delegate).
2. ``model.export(format="litert")`` of the trained model: FlexTensorList* ops,
   which ai-edge-litert cannot run. A trap.
3. ``TFLiteConverter.from_keras_model``: "TensorListReserve requires element_shape
   to be static"; ``from_concrete_functions`` leaves VAR_HANDLE/READ_VARIABLE.
4. Static batch, loop NOT unrolled, plus the converter's
   ``_experimental_default_to_single_batch_in_tensor_list_ops``: builtin WHILE
   loops, float32 exact, small files (897 KB float32, 321 KB int8), but the loop
   bodies run outside XNNPACK and int8 keeps QUANTIZE/DEQUANTIZE pairs inside them:
   int8 2.8 ms, 7x slower than path 1.
5. Fused UNIDIRECTIONAL_SEQUENCE_LSTM (what tf_keras gets through its
   ``api_implements="lstm_..."`` function attribute; reproduced in Keras 3 with a
   tf.function carrying the same attributes): the smallest files (843 KB float32,
   229 KB int8 = 27%), but float32 differs from Keras by 4e-3 and full-integer int8
   runs the 8x8->16 integer LSTM kernel: 11.6 ms, ~25x slower than path 1.

The price of path 1 is size: each unrolled time step is a dozen ops, and thousands
of op and tensor records (each int8 tensor with its own scale and zero point)
weigh as much as the weights, so a BiLSTM's int8 file is about half of its float32
file, not a quarter (convolutional models have few ops, but at ~23K parameters
their per-channel scales, int32 biases and graph weigh as much as the weights).
The converter also names every tensor after its whole op history; those names
only help debugging, so ``finish_tflite`` drops them (keeping input and
output names): -18% on that float32 file (1642 -> 1354 KB), -52% on int8
(1861 -> 902 KB). The same rewrite embeds the model's description (one pass:
unpacking and repacking a 2 MB unrolled model takes 1.5 s).

ONNX goes through tf2onnx from the batch-1 rebuild *without* unrolling:
onnxruntime runs the Keras loop as an ONNX ``Loop`` exactly (max |dp| 2e-7). On
the default bilstm-attention it converts in 4 s instead of 61 s, is 1.8 MB
instead of 2.8 MB, and runs 2.7 ms instead of 14.7 ms per sequence.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.files import atomic_path
from edge_runtime.model_file import EMBEDDING, PROBABILITIES
from export.errors import ExportError
from export.formats import Format
from host.native_stderr import captured

log = logging.getLogger(__name__)

ONNX_OPSET = 17
NAMED_OUTPUTS = {PROBABILITIES.encode(), EMBEDDING.encode(), PROBABILITIES, EMBEDDING}
INPUT_NAME = "features"


def _first_error_line(err: BaseException, native: list[str]) -> str:
    """The most telling line of a converter failure (its messages run to pages)."""
    text = [ln.strip() for ln in str(err).splitlines() if ln.strip()] + [ln.strip() for ln in native]
    for marker in ("error:", "Error:", "requires", "failed"):
        for line in text:
            if marker in line:
                # MLIR prefixes the message with the op's whole call-site location: keep the message.
                return re.sub(r"^.*loc\(.*\)\)\):\s*", "", line)[:400]
    return (text[0] if text else type(err).__name__)[:400]


def saved_model(clone: Any, folder: Path) -> Path:
    """Export the batch-1 rebuild as a SavedModel, the converter's best-supported input."""
    path = folder / "saved_model"
    clone.export(str(path), format="tf_saved_model", verbose=False)
    return path


def _configure(converter: Any, fmt: Format, calibration: np.ndarray | None, int8_io: bool) -> None:
    import tensorflow as tf

    # Builtins only: a graph that would need Flex ops fails here instead of producing a file the device rejects.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if fmt.needs_calibration:
        if calibration is None or not len(calibration):
            raise ExportError(f"{fmt.name}: {fmt.quantisation} quantisation needs calibration recordings")
        samples = np.asarray(calibration, dtype=np.float32)
        converter.representative_dataset = lambda: ([samples[i:i + 1]] for i in range(len(samples)))
    if fmt.quantisation == "none":
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if fmt.quantisation == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif fmt.quantisation == "dynamic-range":
        pass  # Optimize.DEFAULT without a representative dataset = int8 weights, float activations
    elif fmt.quantisation == "full-integer":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if int8_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    else:
        raise ExportError(f"{fmt.name}: unknown quantisation {fmt.quantisation!r} in the FORMATS table")


def convert_tflite(saved_model_dir: Path, fmt: Format, calibration: np.ndarray | None = None,
                   int8_io: bool = False, quiet: bool = True, metadata: dict[str, bytes] | None = None) -> bytes:
    """The ``.tflite`` bytes of ``fmt`` from a SavedModel, tensor names stripped, ``metadata`` embedded."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    _configure(converter, fmt, calibration, int8_io)
    with captured(quiet) as native:
        try:
            blob = converter.convert()
        except Exception as err:  # ConverterError and friends; their text is pages of MLIR locations
            raise ExportError(f"{fmt.name}: TFLite conversion failed: {_first_error_line(err, native)}") from err
    return finish_tflite(blob, metadata)


def finish_tflite(blob: bytes, metadata: dict[str, bytes] | None = None) -> bytes:
    """Drop the converter's debugging names of internal tensors and embed ``metadata`` (name -> bytes).

    Inputs and outputs keep a name; the outputs of a model with an embedding take
    their signature keys (``probabilities``, ``embedding``: the Keras output
    names), which is how the device tells the two apart; signatures refer to tensors by index, so the interpreter
    sees the same model. Each metadata entry becomes
    a ``Model.metadata`` record pointing at a new buffer (an entry of the same
    name is replaced); the interpreter ignores metadata, so outputs do not change.
    """
    import flatbuffers

    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        from tensorflow.lite.python import schema_py_generated as schema
    model = schema.ModelT.InitFromPackedBuf(blob, 0)
    for sub in model.subgraphs or []:
        keep = set(np.asarray(sub.inputs if sub.inputs is not None else []).tolist())
        keep |= set(np.asarray(sub.outputs if sub.outputs is not None else []).tolist())
        for index, tensor in enumerate(sub.tensors or []):
            if index not in keep:
                tensor.name = b""
    for signature in model.signatureDefs or []:
        sub = model.subgraphs[signature.subgraphIndex]
        for entry in signature.outputs or []:
            if entry.name in NAMED_OUTPUTS:
                sub.tensors[entry.tensorIndex].name = entry.name
    for name, data in (metadata or {}).items():
        _set_metadata(model, schema, name, data)
    builder = flatbuffers.Builder(len(blob))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _set_metadata(model: Any, schema: Any, name: str, data: bytes) -> None:
    """Point ``Model.metadata[name]`` at a buffer holding ``data`` (reusing the buffer of an earlier entry)."""
    buffer = schema.BufferT(data=np.frombuffer(data, dtype=np.uint8))
    for entry in model.metadata or []:
        if entry.name in (name, name.encode("utf-8")):
            model.buffers[entry.buffer] = buffer
            return
    model.buffers = list(model.buffers or []) + [buffer]
    model.metadata = list(model.metadata or []) + [schema.MetadataT(name=name, buffer=len(model.buffers) - 1)]


def set_onnx_metadata(proto: Any, metadata: dict[str, str | bytes]) -> None:
    """Set ``metadata_props`` entries of an ONNX ModelProto in place (an entry of the same key is replaced)."""
    for key, value in metadata.items():
        text = value.decode("utf-8") if isinstance(value, bytes) else value
        kept = [p for p in proto.metadata_props if p.key != key]
        del proto.metadata_props[:]
        proto.metadata_props.extend(kept)
        proto.metadata_props.add(key=key, value=text)


def convert_onnx(model: Any, frames: int, features: int, opset: int = ONNX_OPSET, quiet: bool = True,
                 metadata: dict[str, bytes] | None = None) -> bytes:
    """Float32 ONNX bytes of a batch-1 Keras model through tf2onnx, checked with ``onnx.checker``, ``metadata``
    in its ``metadata_props``."""
    import onnx
    import tensorflow as tf
    import tf2onnx

    signature = [tf.TensorSpec((1, frames, features), tf.float32, name=INPUT_NAME)]
    with captured(quiet) as native:
        try:
            proto, _ = tf2onnx.convert.from_keras(model, input_signature=signature, opset=opset)
        except Exception as err:  # tf2onnx raises whatever the graph rewriters hit
            raise ExportError(f"onnx: tf2onnx conversion failed: {_first_error_line(err, native)}") from err
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as err:
        raise ExportError(f"onnx: the converted model fails onnx.checker ({str(err).splitlines()[0]})") from err
    set_onnx_metadata(proto, metadata or {})
    return proto.SerializeToString()


def write_model(path: Path, data: bytes) -> None:
    """Write a model file atomically: a crash or error never leaves half a file under the final name."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)

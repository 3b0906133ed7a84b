"""What is inside a ``.tflite`` file: its operators, read from the flatbuffer itself.

The interpreter cannot answer this: a file with Flex ops does not even load
on the device (that is the point), and once loaded, XNNPACK hides most ops
behind one ``DELEGATE`` node. So the file is parsed with the schema that
``ai_edge_litert`` ships (no TensorFlow import).

Usage: ``python -m export.cli.ops model.tflite`` prints the op counts and exits 1
if any op would not run on the device.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edge_runtime.errors import ModelError

# Ops that need TensorFlow's kernels (Flex = SELECT_TF_OPS) or state the device runtime does not keep.
RESOURCE_VARIABLE_OPS = frozenset({"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE"})
FLEX_PREFIX = "Flex"


def _schema():
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:  # a training host without ai-edge-litert still has TensorFlow's copy
        from tensorflow.lite.python import schema_py_generated as schema
    return schema


def _model(data: bytes, where: str):
    schema = _schema()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError(f"{where}: not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        return schema.Model.GetRootAsModel(data, 0), schema
    except Exception as err:  # flatbuffers raises plain struct/index errors on garbage
        raise ModelError(f"{where}: corrupt TFLite flatbuffer ({type(err).__name__})") from err


def _read(model: str | Path | bytes) -> tuple[bytes, str]:
    if isinstance(model, (bytes, bytearray)):
        return bytes(model), "model"
    path = Path(model)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    return path.read_bytes(), str(path)


def op_counts(model: str | Path | bytes) -> dict[str, int]:
    """Operator name -> count over all subgraphs; custom ops appear under their custom code (``FlexFoo``)."""
    data, where = _read(model)
    root, schema = _model(data, where)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = []
    for i in range(root.OperatorCodesLength()):
        oc = root.OperatorCodes(i)
        # Codes above 127 live in BuiltinCode; older files keep them in DeprecatedBuiltinCode.
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        name = names.get(code, f"BUILTIN_{code}")
        if name == "CUSTOM":
            name = (oc.CustomCode() or b"CUSTOM").decode("utf-8", "replace")
        codes.append(name)
    counts: collections.Counter[str] = collections.Counter()
    for s in range(root.SubgraphsLength()):
        sub = root.Subgraphs(s)
        for o in range(sub.OperatorsLength()):
            counts[codes[sub.Operators(o).OpcodeIndex()]] += 1
    return dict(sorted(counts.items()))


@dataclass(frozen=True)
class SizeBreakdown:
    """Where a ``.tflite`` file's bytes go: constant tensors (weights, biases) vs everything else."""

    file_bytes: int
    constant_bytes: int  # the data of every buffer: weights, biases, other constant tensors
    operators: int
    tensors: int

    @property
    def graph_bytes(self) -> int:
        """Operators, tensor records (shapes, names, per-channel scales and zero points), signatures, metadata."""
        return self.file_bytes - self.constant_bytes


def size_breakdown(model: str | Path | bytes) -> SizeBreakdown:
    """Measure how much of a file is constant data and how much is the graph around it."""
    data, where = _read(model)
    root, _ = _model(data, where)
    constant = sum(root.Buffers(b).DataLength() for b in range(root.BuffersLength()))
    operators = tensors = 0
    for s in range(root.SubgraphsLength()):
        sub = root.Subgraphs(s)
        operators += sub.OperatorsLength()
        tensors += sub.TensorsLength()
    return SizeBreakdown(len(data), int(constant), operators, tensors)


def forbidden_ops(ops: dict[str, int] | Sequence[str]) -> list[str]:
    """The ops that keep a file off the device: Flex (SELECT_TF_OPS), any custom op, resource variables."""
    builtin = set(vars(_schema().BuiltinOperator))
    bad = []
    for name in ops:
        if name.startswith(FLEX_PREFIX) or name in RESOURCE_VARIABLE_OPS or name not in builtin:
            bad.append(name)
    return sorted(bad)

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


def op_counts(model: str | Path | bytes) -> dict[str, int]:
    """Operator name -> count over all subgraphs; custom ops appear under their custom code (``FlexFoo``)."""
    if isinstance(model, (bytes, bytearray)):
        data, where = bytes(model), "model"
    else:
        path = Path(model)
        if not path.is_file():
            raise ModelError(f"{path}: model file not found")
        data, where = path.read_bytes(), str(path)
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


def forbidden_ops(ops: dict[str, int] | Sequence[str]) -> list[str]:
    """The ops that keep a file off the device: Flex (SELECT_TF_OPS), any custom op, resource variables."""
    builtin = set(vars(_schema().BuiltinOperator))
    bad = []
    for name in ops:
        if name.startswith(FLEX_PREFIX) or name in RESOURCE_VARIABLE_OPS or name not in builtin:
            bad.append(name)
    return sorted(bad)

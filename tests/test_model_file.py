"""One way to open a model file: ``edge_runtime.model_file.open_model``, and its metadata reader needs no TensorFlow."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from edge_runtime.errors import ModelError
from edge_runtime.model_file import open_model, tflite_metadata

REPO = Path(__file__).resolve().parents[1]
HOST_PACKAGES = ("export", "train", "benchmarks")
# Ways to open a classifier file other than open_model: an interpreter class or loader, an onnxruntime session.
OPENERS = {"Interpreter", "load_interpreter", "interpreter_class", "InferenceSession"}


def other_openers(source: str) -> list[str]:
    """Names in ``OPENERS`` that ``source`` imports, calls or reads as an attribute (strings and comments don't count)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            found += [a.name for a in node.names if a.name in OPENERS]
        elif isinstance(node, ast.Name) and node.id in OPENERS:
            found.append(node.id)
        elif isinstance(node, ast.Attribute) and node.attr in OPENERS:
            found.append(node.attr)
    return found


def test_the_checker_catches_each_way_of_opening_a_model() -> None:
    assert other_openers("from ai_edge_litert.interpreter import Interpreter\nInterpreter(model_path='m')")
    assert other_openers("import tensorflow as tf\ntf.lite.Interpreter(model_content=b'')")
    assert other_openers("import onnxruntime as ort\nort.InferenceSession('m.onnx')")
    assert other_openers("from edge_runtime.tflite import load_interpreter")
    assert other_openers("from edge_runtime import tflite\ntflite.interpreter_class()[0]('m')")
    assert not other_openers('"""opened with Interpreter( in the docs"""\nfrom edge_runtime.model_file import open_model')


def test_host_packages_open_classifier_files_only_through_open_model() -> None:
    offenders = {}
    for package in HOST_PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            found = other_openers(path.read_text(encoding="utf-8"))
            if found:
                offenders[str(path.relative_to(REPO))] = sorted(set(found))
    assert offenders == {}, f"open models with edge_runtime.model_file.open_model, not {offenders}"


def test_tflite_metadata_of_files_that_are_not_tflite_or_are_corrupt(tmp_path: Path) -> None:
    assert tflite_metadata(b"not a flatbuffer at all") == {}  # the interpreter is the one to refuse it
    with pytest.raises(ModelError, match="broken.tflite: corrupt TFLite metadata"):
        tflite_metadata(b"\xff\xff\xff\x7fTFL3" + b"\x00" * 32, "broken.tflite")
    with pytest.raises(ModelError, match="model file not found"):
        open_model(tmp_path / "missing.tflite")
    (tmp_path / "m.pt").write_bytes(b"x")
    with pytest.raises(ModelError, match="unknown model format '.pt'"):
        open_model(tmp_path / "m.pt")


def test_tflite_metadata_reads_what_the_converter_and_export_write(tmp_path: Path) -> None:
    """Written with the schema that ai-edge-litert ships, read back without it."""
    pytest.importorskip("ai_edge_litert")
    from export.convert import finish_tflite

    blob = _tiny_tflite()
    before = tflite_metadata(blob)
    assert "min_runtime_version" in before  # the converter's own entry
    text = '{"labels": ["형,오빠", "b"]}'.encode("utf-8")
    after = tflite_metadata(finish_tflite(blob, {"signedge": text}))
    assert after == {**before, "signedge": text}
    again = tflite_metadata(finish_tflite(finish_tflite(blob, {"signedge": b"old"}), {"signedge": text}))
    assert again == after  # the same name is replaced, not added twice


def _tiny_tflite() -> bytes:
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    return tf.lite.TFLiteConverter.from_keras_model(model).convert()

"""The device classifier: the same probabilities as Keras from .tflite (float, int8) and .onnx, and bad models refused.

The helpers ``fit_tiny_model`` and ``export_tiny_model`` build real model files
in a few seconds, straight from the converters and described by a ``.json``
sidecar: files as export wrote them before the description was embedded, which
the device must still read. The recogniser tests use them too (until a shared
fixture trains and exports the project's demo model). Files that carry their
own description are made by ``export-tflite`` (tests/test_export.py) and by
``with_description`` here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge_runtime.classifier import landmark_mismatch, load_classifier
from edge_runtime.errors import ModelError
from edge_runtime.files import write_json
from edge_runtime.model_file import open_model
from edge_runtime.model_info import DESCRIPTION_KEY, ModelInfo, TensorInfo, read_model_info, sidecar_path
from edge_runtime.spec import FeatureSpec, SpecMismatchError

SPEC = FeatureSpec(frames=16)
LABELS = ["가다", "형,오빠", "thanks"]
FORMATS = ("float", "int8", "onnx")


def fit_tiny_model(X: np.ndarray, y: np.ndarray, classes: int, epochs: int = 0, seed: int = 0):
    """A small Conv1D classifier on [T, F] → softmax; trained when ``epochs`` > 0."""
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input(X.shape[1:]),
        keras.layers.Conv1D(16, 3, activation="relu"),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(classes, activation="softmax"),
    ])
    if epochs:
        model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(X, y, epochs=epochs, batch_size=8, verbose=0)
    return model


def _tensor(detail: dict, name: str) -> TensorInfo:
    scale, zero_point = detail["quantization"]
    return TensorInfo(name=name, shape=[int(d) for d in detail["shape"]], dtype=np.dtype(detail["dtype"]).name,
                      scale=float(scale), zero_point=int(zero_point))


def export_tiny_model(model, folder: Path, labels: list[str], spec: FeatureSpec, calibration: np.ndarray,
                      formats: tuple[str, ...] = FORMATS, landmark_backend: str = "litert") -> dict[str, Path]:
    """Convert a Keras model to ``model_<format>.tflite`` / ``model_float.onnx``, each described by a sidecar."""
    tf = pytest.importorskip("tensorflow")
    from ai_edge_litert.interpreter import Interpreter

    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for fmt in formats:
        if fmt == "onnx":
            tf2onnx = pytest.importorskip("tf2onnx")
            path = folder / "model_float.onnx"
            fn = tf.function(lambda x: model(x), input_signature=[
                tf.TensorSpec([1, spec.frames, spec.num_features], tf.float32, name="features")])
            tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, opset=13, output_path=str(path))
            inp = TensorInfo("features", [1, spec.frames, spec.num_features], "float32")
            outp = TensorInfo("probabilities", [1, len(labels)], "float32")
        else:
            converter = tf.lite.TFLiteConverter.from_keras_model(model)
            if fmt == "int8":
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
                converter.representative_dataset = lambda: ([calibration[i:i + 1]] for i in range(len(calibration)))
                converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
                converter.inference_input_type = tf.int8
                converter.inference_output_type = tf.int8
            path = folder / f"model_{fmt}.tflite"
            path.write_bytes(converter.convert())
            interp = Interpreter(model_path=str(path))
            inp = _tensor(interp.get_input_details()[0], "features")
            outp = _tensor(interp.get_output_details()[0], "probabilities")
        info = ModelInfo(format=fmt, labels=list(labels), spec=spec, input=inp, output=outp,
                         landmark_backend=landmark_backend, landmark_model_sha256="ab" * 32)
        write_json(sidecar_path(path), info.to_dict())
        out[fmt] = path
    return out


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """An untrained (random-weight) model in every format, and inputs shaped like real features."""
    rng = np.random.default_rng(0)
    X = rng.normal(0, 1, (24, SPEC.frames, SPEC.num_features)).astype(np.float32)
    X[..., -2:] = rng.integers(0, 2, (24, SPEC.frames, 2))  # presence flags are 0/1
    model = fit_tiny_model(X, np.zeros(24, int), len(LABELS))
    paths = export_tiny_model(model, tmp_path_factory.mktemp("models"), LABELS, SPEC, X)
    return model, paths, X


def with_description(path: Path, folder: Path, description: bytes) -> Path:
    """A copy of a converter's file with ``description`` embedded the way export-tflite embeds it, and no sidecar."""
    from export.convert import finish_tflite, set_onnx_metadata

    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / path.name
    if path.suffix == ".onnx":
        onnx = pytest.importorskip("onnx")
        proto = onnx.load(str(path))
        set_onnx_metadata(proto, {DESCRIPTION_KEY: description})
        copy.write_bytes(proto.SerializeToString())
    else:
        copy.write_bytes(finish_tflite(path.read_bytes(), {DESCRIPTION_KEY: description}))
    return copy


@pytest.mark.slow
def test_every_format_gives_keras_probabilities(exported):
    """Older files: described only by their sidecar, they still load."""
    model, paths, X = exported
    want = np.asarray(model(X[:8]))
    for fmt, path in paths.items():
        assert DESCRIPTION_KEY not in open_model(path).metadata
        clf = load_classifier(path, threads=1, expected_spec=FeatureSpec())
        assert clf.labels == LABELS and clf.frames == 16
        assert clf.runtime == ("onnxruntime" if fmt == "onnx" else "ai_edge_litert")
        got = np.stack([clf.predict(x) for x in X[:8]])
        assert np.allclose(got.sum(axis=1), 1.0, atol=1e-5)
        assert got.shape == (8, len(LABELS)) and clf.last_invoke_ms > 0
        # int8: one quantisation step of the input and output is ~1/256 of their range
        np.testing.assert_allclose(got, want, atol=0.03 if fmt == "int8" else 1e-5)


@pytest.mark.slow
def test_an_embedded_description_is_all_the_device_needs_and_changes_no_output(exported, tmp_path):
    _, paths, X = exported
    for fmt, path in paths.items():
        info = read_model_info(path)
        lone = with_description(path, tmp_path / fmt, info.embedded())
        assert not sidecar_path(lone).exists()
        clf = load_classifier(lone, threads=1, expected_spec=FeatureSpec())
        assert clf.labels == LABELS and clf.info.landmark_model_sha256 == "ab" * 32 and clf.info.format == fmt
        assert clf.info.input == info.input and clf.info.output == info.output  # the file's own tensors
        # the description rides along: every output of the file is bit for bit what it was without it
        before, after = open_model(path, threads=1), open_model(lone, threads=1)
        for x in X:
            np.testing.assert_array_equal(after.run(x[None]), before.run(x[None]))
        # a sidecar left beside a described file is ignored: the file speaks for itself
        write_json(sidecar_path(lone), dict(info.to_dict(), labels=["x", "y", "z"]))
        assert load_classifier(lone).labels == LABELS


@pytest.mark.slow
def test_a_corrupt_embedded_description_is_one_line_naming_the_file(exported, tmp_path):
    _, paths, _ = exported
    good = json.loads(read_model_info(paths["float"]).embedded())
    cases = {"json": (b"{not json", "not valid JSON"),
             "labels": (json.dumps({k: v for k, v in good.items() if k != "labels"}).encode(), "missing 'labels'"),
             "spec": (json.dumps(dict(good, spec="v1")).encode(), "malformed model description"),
             "list": (b"[1, 2]", "not a model description")}
    for fmt in ("float", "onnx"):
        for name, (text, message) in cases.items():
            path = with_description(paths[fmt], tmp_path / f"{fmt}-{name}", text)
            write_json(sidecar_path(path), read_model_info(paths[fmt]).to_dict())  # never a fallback for a bad one
            with pytest.raises(ModelError) as err:
                load_classifier(path)
            line = str(err.value)
            assert "\n" not in line and str(path) in line and "embedded description" in line and message in line, line


@pytest.mark.slow
def test_wrong_feature_shape_is_refused(exported):
    _, paths, X = exported
    clf = load_classifier(paths["float"])
    with pytest.raises(ValueError, match=r"features must have shape \[16, 116\]"):
        clf.predict(X[0, :10])


def _copy_model(src: Path, dst_dir: Path, sidecar: dict | None) -> Path:
    dst_dir.mkdir(exist_ok=True)
    dst = dst_dir / src.name
    dst.write_bytes(src.read_bytes())
    if sidecar is not None:
        sidecar_path(dst).write_text(json.dumps(sidecar), encoding="utf-8")
    return dst


@pytest.mark.slow
def test_bad_models_are_refused_with_one_clear_line(exported, tmp_path):
    _, paths, _ = exported
    good = read_model_info(paths["float"]).to_dict()

    with pytest.raises(ModelError, match="model file not found"):
        load_classifier(tmp_path / "nope.tflite")

    bare = _copy_model(paths["float"], tmp_path / "bare", None)
    with pytest.raises(ModelError, match=r"no embedded description and no sidecar model_float\.tflite\.json next to"):
        load_classifier(bare)

    for suffix in (".tflite", ".onnx"):
        corrupt = tmp_path / f"corrupt{suffix}"
        corrupt.write_bytes(b"this is not a model" * 10)
        sidecar_path(corrupt).write_text(json.dumps(good), encoding="utf-8")
        with pytest.raises(ModelError, match=f"corrupt\\{suffix}: not a usable"):
            load_classifier(corrupt)

    other = dict(good, spec=dict(good["spec"], version=2))
    with pytest.raises(SpecMismatchError, match="hands-xy-angles-v2 is not computed by this runtime"):
        load_classifier(_copy_model(paths["float"], tmp_path / "v2", other))

    other = dict(good, spec=dict(good["spec"], frames=32), input=dict(good["input"], shape=[1, 32, 116]))
    with pytest.raises(ModelError, match=r"input tensor has shape \[1, 16, 116\], the sidecar says \[1, 32, 116\]"):
        load_classifier(_copy_model(paths["float"], tmp_path / "t32", other))

    other = dict(good, labels=["a", "b"])
    with pytest.raises(ModelError, match="does not match its 2 labels"):
        load_classifier(_copy_model(paths["float"], tmp_path / "labels", other))

    (tmp_path / "broken").mkdir()
    broken = _copy_model(paths["onnx"], tmp_path / "broken", None)
    sidecar_path(broken).write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_classifier(broken)

    weird = tmp_path / "model.pt"
    weird.write_bytes(b"x")
    with pytest.raises(ModelError, match="unknown model format '.pt'"):
        load_classifier(weird)


@pytest.mark.slow
def test_a_model_of_another_spec_name_is_refused(exported, tmp_path):
    """check_same against the runtime's spec, whether the description is embedded or in a sidecar."""
    _, paths, _ = exported
    lone = with_description(paths["float"], tmp_path, read_model_info(paths["float"]).embedded())
    for path in (paths["float"], lone):
        with pytest.raises(SpecMismatchError, match="uses feature spec hands-xy-angles-v1, but this code computes"):
            load_classifier(path, expected_spec=FeatureSpec(name="other", version=1))


def test_landmark_backend_or_model_differences_are_one_warning_line():
    info = ModelInfo("float", ["a", "b"], SPEC, TensorInfo("x", [1, 16, 116], "float32"),
                     TensorInfo("y", [1, 2], "float32"), landmark_backend="mediapipe",
                     landmark_model_sha256="37a2598f" + "0" * 56)
    assert landmark_mismatch(info, "mediapipe", "37a2598f" + "0" * 56) is None
    text = landmark_mismatch(info, "litert", "db109f12" + "0" * 56)
    assert "'mediapipe' landmark backend, this run uses 'litert'" in text and "37a2598f" in text
    assert "\n" not in text
    # a model card that does not say which backend made its data warns about nothing
    assert landmark_mismatch(ModelInfo("float", ["a", "b"], SPEC, info.input, info.output), "litert", "x") is None

"""export-tflite: a trained run folder in, five verified, self-describing model files and a report out.

The run folder is made here the way sign-train writes it (model.keras,
labels.json, model_card.json over a small synthetic dataset, T=16) with a tiny
BiLSTM, so the recurrent export path (batch 1, unrolled) is what gets tested.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow")

from edge_runtime.classifier import load_classifier
from edge_runtime.dataset import ManifestRow, recording_filename, save_recording, write_info, write_manifest
from edge_runtime.files import sha256_file
from edge_runtime.model_info import read_model_info, sidecar_path
from edge_runtime.spec import FeatureSpec
from export.cli.tflite import main
from export.errors import ExportError
from export.formats import BY_NAME, FORMATS, parse_formats
from export.ops import forbidden_ops, op_counts, size_breakdown
from export.pipeline import REPORT_FILE
from export.verify import verify_file
from host.features import load_features
from train.synth.config import SynthConfig
from train.synth.recordings import synthesize
from train.synth.writer import synthetic_info

pytestmark = pytest.mark.slow

SPEC = FeatureSpec(frames=16)
WORDS = ("가다", "형,오빠", "thanks")  # a comma in a label, as in the real KSL set


def _write_dataset(folder: Path) -> list[ManifestRow]:
    config = SynthConfig(words=WORDS, signers=4, per_word=8, frames_min=20, frames_max=40, seed=3)
    rows = []
    for rec in synthesize(config):
        name = recording_filename(rec.label, rec.source_id)
        save_recording(folder / name, rec)
        rows.append(ManifestRow.of(name, rec))
    write_info(folder, synthetic_info(config))
    write_manifest(folder, rows)
    return rows


def _tiny_bilstm(classes: int, activation: str = "softmax"):
    inp = keras.Input((SPEC.frames, SPEC.num_features), name="features")
    x = keras.layers.Bidirectional(keras.layers.LSTM(8, return_sequences=True), name="bilstm")(inp)
    x = keras.layers.GlobalAveragePooling1D()(x)
    out = keras.layers.Dense(classes, activation=activation, name="probabilities")(x)
    return keras.Model(inp, out)


def write_run(folder: Path, dataset: Path, rows: list[ManifestRow], model, labels: list[str]) -> Path:
    """A run folder as the contract describes it: model.keras, labels.json, model_card.json."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.keras")
    (folder / "labels.json").write_text(json.dumps(labels, ensure_ascii=False), encoding="utf-8")
    by_signer: dict[str, list[str]] = {}
    for row in rows:
        by_signer.setdefault(row.signer, []).append(row.file)
    signers = sorted(by_signer)
    split = {"mode": "signer", "seed": 0, "train": by_signer[signers[0]] + by_signer[signers[1]], "val": [],
             "test": by_signer[signers[2]] + by_signer[signers[3]],
             "groups": {"train": signers[:2], "val": [], "test": signers[2:]}}
    card = {"signedge_version": "test", "spec": SPEC.to_dict(), "labels": labels,
            "model": {"name": "tiny-bilstm", "params": int(model.count_params())},
            "dataset": {"path": str(dataset), "info": json.loads((dataset / "dataset.json").read_text()),
                        "recordings": len(rows)},
            "split": split,
            "metrics": {"test": {"measured_on": f"held-out test split: signers {', '.join(signers[2:])}"}}}
    (folder / "model_card.json").write_text(json.dumps(card, ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A trained tiny BiLSTM run over a 3-word synthetic dataset (train: 2 signers, test: 2 others)."""
    root = tmp_path_factory.mktemp("export")
    dataset = root / "data"
    rows = _write_dataset(dataset)
    labels = sorted(WORDS)
    train_files = [r.file for r in rows if r.signer in sorted({r.signer for r in rows})[:2]]
    X, y = load_features(dataset, train_files, SPEC, labels)
    keras.utils.set_random_seed(0)
    model = _tiny_bilstm(len(labels))
    model.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy")
    model.fit(X, y, epochs=40, batch_size=8, verbose=0)
    return write_run(root / "run", dataset, rows, model, labels)


def _exit_code(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return int(exc.value.code or 0)


def _report(out: Path) -> dict:
    return json.loads((out / REPORT_FILE).read_text(encoding="utf-8"))


def test_all_formats_written_verified_and_described(tiny_run: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "dist"
    assert _exit_code([str(tiny_run), "--out", str(out), "--calibration", "8"]) == 0

    printed = capsys.readouterr().out
    report = _report(out)
    held_out = len(json.loads((tiny_run / "model_card.json").read_text(encoding="utf-8"))["split"]["test"])
    assert report["passed"] is True
    assert [r["format"] for r in report["formats"]] == [f.name for f in FORMATS]
    assert report["calibration"] == {"split": "train", "recordings": 8, "augmented": False}
    assert report["measured_on"].startswith("held-out test split")
    for row in report["formats"]:
        fmt = BY_NAME[row["format"]]
        path = out / fmt.filename
        assert path.is_file() and row["size_bytes"] == path.stat().st_size
        assert row["format"] in printed and fmt.filename in printed
        assert row["passed"], row["problems"]
        assert row["n"] == held_out and row["agreement"] >= fmt.min_agreement
        if fmt.converter == "tflite":
            assert forbidden_ops(op_counts(path)) == []
            assert "FULLY_CONNECTED" in row["ops"]  # the unrolled LSTM, not a Flex TensorList loop
        info = read_model_info(path)
        assert info.format == fmt.name and info.labels == sorted(WORDS)
        assert info.spec == SPEC and info.input.shape == [1, 16, 116] and info.output.shape == [1, 3]
        assert info.source_model_sha256 == sha256_file(tiny_run / "model.keras")
        assert info.landmark_backend == "synthetic"
        assert info.extra["quantisation"] == fmt.quantisation
        assert (info.extra["calibration"] is not None) == fmt.needs_calibration
        assert not sidecar_path(path).exists()  # the description is inside the file
    # float formats compute what Keras computes; quantised ones stay close
    rows = {r["format"]: r for r in report["formats"]}
    assert rows["f32"]["max_abs_diff"] < 1e-4 and rows["onnx"]["max_abs_diff"] < 1e-4
    assert rows["int8"]["max_abs_diff"] < 0.2
    assert read_model_info(out / "model_int8.tflite").input.dtype == "float32"  # float I/O by default
    assert read_model_info(out / "model_int8.tflite").extra["calibration"]["split"] == "train"
    # Where the bytes go: int8 weights take a quarter of float32's; the graph around them does not shrink.
    f32, int8 = size_breakdown(out / "model_f32.tflite"), size_breakdown(out / "model_int8.tflite")
    assert f32.constant_bytes + f32.graph_bytes == (out / "model_f32.tflite").stat().st_size
    assert int8.constant_bytes < 0.35 * f32.constant_bytes and int8.graph_bytes > f32.graph_bytes
    assert f32.operators == sum(rows["f32"]["ops"].values())
    # nothing half-written or temporary is left beside the results
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []

    # one file to copy: each file alone in another folder is a working device classifier, and its
    # predictions on the held-out split agree with Keras exactly as often as export measured
    card = json.loads((tiny_run / "model_card.json").read_text(encoding="utf-8"))
    X, _ = load_features(card["dataset"]["path"], card["split"]["test"], SPEC, sorted(WORDS))
    keras_pred = keras.models.load_model(tiny_run / "model.keras").predict(X, verbose=0).argmax(1)
    for row in report["formats"]:
        lone = tmp_path / "device" / row["format"] / row["file"]
        lone.parent.mkdir(parents=True)
        shutil.copyfile(out / row["file"], lone)
        clf = load_classifier(lone, threads=1, expected_spec=SPEC)
        assert clf.labels == sorted(WORDS) and clf.info.format == row["format"]
        pred = np.array([int(np.argmax(clf.predict(x))) for x in X])
        assert float(np.mean(pred == keras_pred)) == row["agreement"], row["format"]


def test_int8_io_model_is_fed_with_its_own_scale(tiny_run: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "int8io"
    out.mkdir()
    (out / "model_int8.tflite.json").write_text("{}")  # an older export's sidecar: it must not survive
    assert _exit_code([str(tiny_run), "--out", str(out), "--formats", "int8", "--int8-io"]) == 0
    info = read_model_info(out / "model_int8.tflite")
    assert info.input.dtype == "int8" and info.input.scale > 0
    assert info.output.dtype == "int8" and info.output.scale > 0
    assert sorted(p.name for p in out.iterdir()) == ["export_report.json", "model_int8.tflite"]
    capsys.readouterr()
    from edge_runtime.cli.model_info import main as describe

    with pytest.raises(SystemExit) as done:
        describe([str(out / "model_int8.tflite")])
    assert done.value.code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["labels"] == sorted(WORDS) and printed["input"]["dtype"] == "int8"
    # the device's classifier feeds the file with the scale it carries and agrees with Keras
    card = json.loads((tiny_run / "model_card.json").read_text(encoding="utf-8"))
    X, _ = load_features(card["dataset"]["path"], card["split"]["test"][:4], SPEC, info.labels)
    model = keras.models.load_model(tiny_run / "model.keras")
    clf = load_classifier(out / "model_int8.tflite", expected_spec=SPEC)
    assert [int(np.argmax(clf.predict(x))) for x in X] == list(model.predict(X, verbose=0).argmax(1))


def test_flex_model_fails_its_gate(tmp_path: Path) -> None:
    """The trap: model.export(format="litert") of a looped LSTM writes Flex ops that the device cannot run."""
    model = keras.Sequential([keras.Input((SPEC.frames, SPEC.num_features)), keras.layers.LSTM(4),
                              keras.layers.Dense(3, activation="softmax")])
    path = tmp_path / "trap.tflite"
    model.export(str(path), format="litert", verbose=False)
    bad = forbidden_ops(op_counts(path))
    assert any(op.startswith("Flex") for op in bad), bad

    X = np.random.default_rng(0).normal(size=(3, SPEC.frames, SPEC.num_features)).astype(np.float32)
    row, _, _ = verify_file(path, BY_NAME["f32"], X, np.zeros(3, int), model.predict(X, verbose=0))
    assert not row.passed
    assert any("not builtin-only" in p for p in row.problems)

    from export.cli.ops import main as ops_main

    with pytest.raises(SystemExit) as exc:
        ops_main([str(path)])
    assert exc.value.code == 1


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("export-tflite: error:")]
    assert len(errors) == 1, err
    assert not any("Traceback" in line for line in err)
    return errors[0]


def test_run_folder_without_a_model(tiny_run: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / "model.keras").unlink()
    out = tmp_path / "out"
    assert _exit_code([str(run), "--out", str(out)]) == 2
    assert "no model.keras" in _one_line_error(capsys)
    assert not out.exists()

    assert _exit_code([str(tmp_path / "no-such-run")]) == 2
    assert "run folder not found" in _one_line_error(capsys)
    assert not (tmp_path / "no-such-run").exists()  # the default output folder inside it was not created


@pytest.mark.parametrize("problem", ["labels", "sigmoid"])
def test_model_that_is_not_a_softmax_over_the_labels(tiny_run: Path, tmp_path: Path, capsys, problem: str) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    if problem == "labels":  # labels.json and the card name 4 classes, the model has 3 outputs
        labels = sorted(WORDS) + ["zzz"]
        (run / "labels.json").write_text(json.dumps(labels, ensure_ascii=False), encoding="utf-8")
        card = json.loads((run / "model_card.json").read_text(encoding="utf-8"))
        card["labels"] = labels
        (run / "model_card.json").write_text(json.dumps(card, ensure_ascii=False), encoding="utf-8")
        expected = "output shape"
    else:  # right shape, but independent sigmoids instead of a distribution
        _tiny_bilstm(3, activation="sigmoid").save(run / "model.keras")
        expected = "not a softmax"
    out = tmp_path / "out"
    assert _exit_code([str(run), "--out", str(out)]) == 2
    assert expected in _one_line_error(capsys)
    assert not out.exists()


def test_unknown_format_and_unwritable_folder(tiny_run: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert _exit_code([str(tiny_run), "--out", str(out), "--formats", "f32,f64"]) == 2
    line = _one_line_error(capsys)
    assert "unknown format 'f64' (choose from f32, f16, dynamic, int8, onnx)" in line
    assert not out.exists()

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert _exit_code([str(tiny_run), "--out", str(blocker / "sub"), "--formats", "f32"]) == 2
    assert "cannot write to output folder" in _one_line_error(capsys)


def test_failed_conversion_leaves_no_file_and_exits_nonzero(tiny_run: Path, tmp_path: Path, monkeypatch,
                                                             capsys) -> None:
    import export.convert

    out = tmp_path / "out"
    out.mkdir()
    (out / "model_int8.tflite").write_bytes(b"an old export")  # must not survive looking current
    real = export.convert.convert_tflite

    def failing(saved_model_dir, fmt, *args, **kwargs):
        if fmt.name == "int8":
            raise ExportError("int8: TFLite conversion failed: simulated")
        return real(saved_model_dir, fmt, *args, **kwargs)

    monkeypatch.setattr(export.convert, "convert_tflite", failing)
    assert _exit_code([str(tiny_run), "--out", str(out), "--formats", "f32,int8", "--calibration", "4"]) == 1
    report = _report(out)
    rows = {r["format"]: r for r in report["formats"]}
    assert rows["f32"]["passed"] and not rows["int8"]["passed"]
    assert "simulated" in rows["int8"]["problems"][0]
    assert not (out / "model_int8.tflite").exists() and not sidecar_path(out / "model_int8.tflite").exists()
    assert (out / "model_f32.tflite").is_file()
    assert "FAILED verification: int8" in capsys.readouterr().err


def test_format_names_are_checked_against_the_table() -> None:
    assert [f.name for f in parse_formats("onnx, f32,onnx")] == ["f32", "onnx"]
    with pytest.raises(ExportError, match="no format given"):
        parse_formats(" , ")
    assert forbidden_ops({"FlexTensorListReserve": 1, "VAR_HANDLE": 1, "ADD": 2, "MyCustomOp": 1}) == [
        "FlexTensorListReserve", "MyCustomOp", "VAR_HANDLE"]

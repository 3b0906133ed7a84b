"""Derived hand bundles (sign-models --precision f16|int8), their parity gates and the --landmark-precision flags."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edge_runtime.landmarks.precision import bundle_path
from edge_runtime.landmarks.quantize import DERIVED_LAYOUT, FP16_ACCUMULATION, derive_bundle, read_record, record_path
from edge_runtime.landmarks.task_file import DETECTOR, LANDMARKER, read_task, stored_zip

pytestmark = pytest.mark.shared


def _models(tmp_path: Path, hand_task: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    return Path(shutil.copy(hand_task, folder / "hand_landmarker.task"))


def _sign_models(*args: str) -> int:
    from edge_runtime.cli.models import main

    with pytest.raises(SystemExit) as done:
        main(list(args))
    return int(done.value.code or 0)


def _parity(*args: str) -> int:
    from benchmarks.cli.parity import main

    with pytest.raises(SystemExit) as done:
        main(list(args))
    return int(done.value.code or 0)


def _landmarks(task: Path, crop: np.ndarray) -> list[np.ndarray]:
    from edge_runtime.tflite import load_interpreter

    interp, _ = load_interpreter(read_task(task).landmarker, threads=1)
    interp.set_tensor(interp.get_input_details()[0]["index"], crop)
    interp.invoke()
    return [interp.get_tensor(d["index"]).copy() for d in interp.get_output_details()]


@pytest.fixture(scope="module")
def int8_bundle(tmp_path_factory: pytest.TempPathFactory, hand_task: Path, ksl_videos: list[Path]) -> Path:
    """An int8 bundle calibrated on two shared videos, through the CLI as a user makes it."""
    pytest.importorskip("ai_edge_quantizer", reason="needs the quantize extra: pip install 'signedge[quantize]'")
    float_task = _models(tmp_path_factory.mktemp("int8"), hand_task)
    assert _sign_models("--precision", "int8", "--from-file", str(float_task), "--calibration",
                        str(ksl_videos[0]), str(ksl_videos[1]), "-q") == 0
    return bundle_path(float_task, "int8")


def test_f16_marks_float16_compute_and_keeps_the_landmarks(tmp_path: Path, hand_task: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    float_task = _models(tmp_path, hand_task)
    assert _sign_models("--precision", "f16", "--from-file", str(float_task)) == 0
    f16 = tmp_path / "models" / "hand_landmarker_f16.task"
    record = json.loads(record_path(f16).read_text())
    assert record["precision"] == "f16" and record["sha256"] == hashlib.sha256(f16.read_bytes()).hexdigest()
    assert record["source"]["sha256"] == read_task(float_task).sha256
    models = read_task(f16)
    assert FP16_ACCUMULATION in models.detector and FP16_ACCUMULATION in models.landmarker
    crop = np.random.default_rng(0).random((1, 224, 224, 3), dtype=np.float32)
    for a, b in zip(_landmarks(float_task, crop), _landmarks(f16, crop)):  # float16 compute rounds, no more
        assert np.allclose(a, b, atol=0.02 * max(1.0, float(np.abs(a).max())))
    assert "f16 bundle derived from hand_landmarker.task" in capsys.readouterr().out


@pytest.mark.slow
def test_int8_bundle_has_int8_convolutions_float_io_and_is_byte_reproducible(int8_bundle: Path,
                                                                              ksl_videos: list[Path]) -> None:
    from edge_runtime.tflite import load_interpreter

    record = read_record(int8_bundle)
    assert record is not None and record["precision"] == "int8"
    assert [v["name"] for v in record["calibration"]["videos"]] == [ksl_videos[0].name, ksl_videos[1].name]
    assert record["calibration"]["landmark_crops"] > 0 and record["calibration"]["palm_inputs"] > 0
    for member in (DETECTOR, LANDMARKER):
        content = getattr(read_task(int8_bundle), "detector" if member == DETECTOR else "landmarker")
        interp, _ = load_interpreter(content, threads=1)
        assert interp.get_input_details()[0]["dtype"] == np.float32
        assert all(d["dtype"] == np.float32 for d in interp.get_output_details())
        convs = [op for op in interp._get_ops_details() if op["op_name"] == "CONV_2D"]
        assert convs and all(interp._get_tensor_details(op["inputs"][1], 0)["dtype"] == np.int8 for op in convs)
    again = derive_bundle(int8_bundle.with_name("hand_landmarker.task"), "int8", ksl_videos[:2])
    assert again.record["sha256"] == record["sha256"]  # same float bundle + same videos: same bytes


@pytest.mark.slow
def test_parity_gate_passes_decisions_and_refuses_a_model_with_shuffled_weights(
        tmp_path: Path, hand_task: Path, ksl_videos: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    from ai_edge_litert.tools import flatbuffer_utils as fbu

    float_task = _models(tmp_path, hand_task)
    models = read_task(float_task)
    graph = fbu.convert_bytearray_to_object(bytearray(models.landmarker))
    biggest = max(graph.buffers, key=lambda b: 0 if b.data is None else len(b.data))
    biggest.data = np.random.default_rng(0).permutation(np.asarray(biggest.data))  # same size, scrambled weights
    broken = bytes(fbu.convert_object_to_bytearray(graph))
    bundle_path(float_task, "f16").write_bytes(stored_zip([(DETECTOR, models.detector), (LANDMARKER, broken)],
                                                          DERIVED_LAYOUT))
    out = tmp_path / "parity.json"
    code = _parity(str(ksl_videos[2]), "--precision", "f16", "--hand-model", str(float_task), "--max-frames", "40",
                   "--check", "--out", str(out), "-q")
    text = capsys.readouterr().out
    assert code == 1 and "FAIL" in text
    report = json.loads(out.read_text())
    assert report["candidate_model"].endswith("hand_landmarker_f16.task")
    assert not report["targets"]["found_agreement"]["pass"] or not report["targets"]["median_pct"]["pass"]


def test_a_missing_precision_bundle_is_one_clear_line(tmp_path: Path, hand_task: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from edge_runtime.cli.recognize import main

    float_task = _models(tmp_path, hand_task)
    with pytest.raises(SystemExit) as done:
        main(["--model", str(tmp_path / "m.tflite"), "--hand-model", str(float_task), "--landmark-precision", "int8",
              "--source", str(tmp_path / "clip.mp4")])
    err = capsys.readouterr().err
    assert done.value.code != 0 and "Traceback" not in err
    assert "no int8 hand bundle" in err and "sign-models --precision int8" in err


def test_int8_without_calibration_videos_or_with_f16_calibration_is_refused(
        tmp_path: Path, hand_task: Path, capsys: pytest.CaptureFixture[str]) -> None:
    float_task = _models(tmp_path, hand_task)
    assert _sign_models("--precision", "f16", "--from-file", str(float_task), "--calibration", str(tmp_path)) != 0
    assert "--calibration is for --precision int8" in capsys.readouterr().err
    assert _sign_models("--precision", "int8", "--from-file", str(float_task), "--calibration",
                        str(tmp_path / "none")) != 0
    assert "calibration video or folder not found" in capsys.readouterr().err
    assert not bundle_path(float_task, "int8").exists()


def test_extract_at_a_precision_records_that_bundle(tmp_path: Path, hand_task: Path, ksl_videos: list[Path]) -> None:
    from edge_runtime.dataset import read_info
    from train.cli.extract import main

    float_task = _models(tmp_path, hand_task)
    assert _sign_models("--precision", "f16", "--from-file", str(float_task)) == 0
    videos = tmp_path / "videos" / "word"
    videos.mkdir(parents=True)
    shutil.copy(ksl_videos[0], videos / "clip.mp4")
    with pytest.raises(SystemExit) as done:
        main([str(tmp_path / "videos"), str(tmp_path / "data"), "--hand-model", str(float_task),
              "--landmark-precision", "f16", "--no-progress", "--max-width", "320"])
    assert done.value.code == 0
    f16_sha = read_task(bundle_path(float_task, "f16")).sha256
    assert read_info(tmp_path / "data").landmark_model_sha256 == f16_sha

"""sign-bench as a user runs it: a trained, exported run in; a classifier table, a pipeline table and a report out.

The run is made the way a user makes one (sign-synth data, sign-train with a
tiny model, export-tflite), once for the module. Timings are never asserted
against limits here: the targets are measured by the benchmark itself; these
tests check that every row is measured on the right data and reported.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_recognizer import demo  # noqa: F401  (the session fixture: a tiny model exported without an embedding)

from benchmarks.bench import (
    KERAS_FUNCTION,
    KERAS_PREDICT,
    OPENSET_ENROLLED,
    ClassifierReport,
    ClassifierRow,
    Timing,
    _quality,
    macro_f1,
    paired_difference,
    time_calls,
    time_interleaved,
    worker,
)
from benchmarks.cli.bench import main, spread
from benchmarks.pipeline import PipelineRow
from benchmarks.report import evaluate_targets, openset_cells
from edge_runtime.dataset import Dataset
from export.formats import FORMATS

WORDS = ("무한", "미국", "형,오빠")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def sign_bench(capsys: pytest.CaptureFixture, *args: str | Path) -> tuple[int, str, str]:
    """Run `sign-bench ARGS` in-process; (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as done:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("sign-bench: error:")
    return lines[0]


# --------------------------------------------------------------------------------------- the run

def _train_and_export(root: Path, name: str, train_flags: list[str], export_flags: list[str]) -> Path:
    """sign-train (1-block compact model) on root/data -> export-tflite; the run folder.

    Export gets --min-agreement 0: a few epochs on 30 recordings leave probabilities near uniform, so a
    quantised format can flip a near-tie and fail its gate; these tests measure files, not gates
    (tests/test_export.py tests the gates).
    """
    from export.cli.tflite import main as export_main
    from train.cli.train import main as train_main

    quiet = io.StringIO()
    for command, argv in ((train_main, [root / "data", "-o", root / name, "--size", "width=8", "--size", "blocks=1",
                                        "-q", *train_flags]),
                          (export_main, [root / name, "--calibration", "8", "--min-agreement", "0", *export_flags])):
        with pytest.raises(SystemExit) as done, contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            command([str(a) for a in argv])
        assert done.value.code == 0, quiet.getvalue()[-2000:]
    return root / name


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from train.synth.config import SynthConfig
    from train.synth.writer import make_dataset

    pytest.importorskip("keras")
    root = tmp_path_factory.mktemp("bench")
    make_dataset(root / "data", SynthConfig(words=WORDS, signers=5, per_word=10, frames_min=30, frames_max=50))
    return root


@pytest.fixture(scope="module")
def run_dir(data_root: Path) -> Path:
    """sign-synth -> sign-train (cosine head, the default; 3 epochs) -> export-tflite: a real run with all formats."""
    pytest.importorskip("tf2onnx")
    return _train_and_export(data_root, "run", ["--epochs", "3", "--patience", "3"], [])


@pytest.fixture()
def fake_run(tmp_path: Path) -> Path:
    """A run folder that passes the checks made before measuring (bad-input tests need no TensorFlow)."""
    from train.synth.config import SynthConfig
    from train.synth.writer import make_dataset

    data = tmp_path / "data"
    make_dataset(data, SynthConfig(words=WORDS[:2], signers=3, per_word=3, frames_min=30, frames_max=40))
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.keras").write_bytes(b"not checked before measuring")
    (run / "labels.json").write_text(json.dumps(sorted(WORDS[:2]), ensure_ascii=False), encoding="utf-8")
    from edge_runtime.spec import FeatureSpec

    test = [row.file for row in Dataset(data).rows][:2]
    card = {"spec": FeatureSpec().to_dict(), "labels": sorted(WORDS[:2]), "dataset": {"path": str(data)},
            "split": {"test": test}}
    (run / "model_card.json").write_text(json.dumps(card, ensure_ascii=False), encoding="utf-8")
    (run / "export").mkdir()
    (run / "export" / "model_int8.tflite").write_bytes(b"not opened before measuring")
    return run


# ------------------------------------------------------------------------------------ classifier

@pytest.mark.slow
def test_every_format_side_by_side_with_missing_and_broken_files_reported(run_dir, tmp_path, capsys):
    exported = tmp_path / "export"
    shutil.copytree(run_dir / "export", exported)
    (exported / "model_dynamic.tflite").unlink()  # never exported
    (exported / "model_f16.tflite").write_bytes(b"garbage")  # there, but broken
    out = tmp_path / "report"

    code, stdout, err = sign_bench(capsys, run_dir, "--no-pipeline", "--export-dir", exported, "--threads", "1",
                                   "--repeats", "7", "--warmup", "2", "--out", out, "-q")

    assert code == 1  # a file that is there but cannot run is a failure; the report is still written
    assert "could not measure f16" in err
    report = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    rows = {r["name"]: r for r in report["classifier"]["rows"]}
    assert list(rows) == [KERAS_PREDICT, KERAS_FUNCTION] + [f.name for f in FORMATS]
    assert rows["dynamic"]["status"] == "missing" and "export-tflite" in rows["dynamic"]["note"]
    assert rows["f16"]["status"] == "failed" and "model_f16.tflite" in rows["f16"]["note"]
    assert not (exported / "model_dynamic.tflite").exists()  # reported, not exported behind the user's back

    card = json.loads((run_dir / "model_card.json").read_text(encoding="utf-8"))
    n = len(card["split"]["test"])
    keras = rows[KERAS_PREDICT]
    assert report["classifier"]["n"] == n and report["classifier"]["measured_on"] == card["metrics"]["test"][
        "measured_on"]
    assert keras["accuracy"] == pytest.approx(card["metrics"]["test"]["accuracy"])  # the same model, the same split
    for name in (KERAS_PREDICT, KERAS_FUNCTION, "f32", "int8", "onnx"):
        row = rows[name]
        assert row["status"] == "ok", row["note"]
        assert row["n"] == n and row["latency"]["1"]["n"] == 7
        assert 0 < row["latency"]["1"]["p50_ms"] <= row["latency"]["1"]["p95_ms"]
        assert row["size_bytes"] > 0 and row["load_ms"] > 0 and row["peak_rss_mb"] > 0
    assert rows["f32"]["agreement"] == 1.0 and rows["onnx"]["agreement"] == 1.0
    assert rows["f32"]["max_abs_diff"] < 1e-4
    assert rows["f32"]["accuracy"] == pytest.approx(keras["accuracy"])
    assert rows[KERAS_FUNCTION]["speedup"]["1"] == pytest.approx(1.0)
    assert rows["int8"]["speedup"]["1"] == pytest.approx(
        rows[KERAS_FUNCTION]["latency"]["1"]["p50_ms"] / rows["int8"]["latency"]["1"]["p50_ms"])
    # a fresh process per row: TensorFlow's process is far bigger than the LiteRT one
    assert rows[KERAS_PREDICT]["peak_rss_mb"] > 2 * rows["int8"]["peak_rss_mb"]
    assert "invoke_p50_ms" in rows["int8"]["latency"]["1"]
    for name in ("f32", "int8", "onnx"):  # the run has a cosine head: every exported file has an embedding output
        openset = rows[name]["openset"]["1"]
        assert openset["n"] == 7 and openset["enrolled"] == OPENSET_ENROLLED
        assert openset["prototypes"] == len(WORDS) + OPENSET_ENROLLED
        assert 0 < openset["run_p50_ms"] and 0 < openset["score_p50_ms"]
        # a median of differences each smaller than its score call: below the score's own median
        assert np.isfinite(openset["openset_ms"]) and openset["openset_ms"] < openset["score_p50_ms"]
    assert rows[KERAS_PREDICT]["openset"] == {} and rows["f16"]["openset"] == {}
    assert not list(exported.glob("*.prototypes.npz"))  # the enrolled words lived in memory only
    assert report["openset"]["device_ms"] == rows["int8"]["openset"]["1"]["openset_ms"]
    assert report["openset"]["head_ms"] is None and report["openset"]["total_ms"] is None  # no --family

    for name in ("keras tf.function", "int8", "onnx", "MISSING", "FAILED", "Open set", "open-set ms 1t"):
        assert name in stdout
    targets = {t["name"]: t for t in report["targets"]}
    assert targets["int8_speedup"]["status"] in ("PASS", "MISS")
    assert targets["f16_agreement"]["status"] == "NOT MEASURED"
    assert targets["openset_ms"]["status"] == "NOT MEASURED" and "--family" in targets["openset_ms"]["measured"]
    assert report["machine"]["cores"] >= 1 and report["machine"]["python"]
    markdown = (out / "bench.md").read_text(encoding="utf-8")
    assert "## Classifier" in markdown and "## Targets" in markdown and report["machine"]["cpu"] in markdown
    assert "## Open set" in markdown and "| open-set ms 1t |" in markdown
    assert report["openset"]["sentence"] in markdown and report["command"] in report["openset"]["sentence"]
    assert "## Pipeline" not in markdown
    assert (out / "bench.png").read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in out.iterdir()) == ["bench.json", "bench.md", "bench.png"]


@pytest.mark.slow
def test_on_a_device_without_tensorflow_the_keras_rows_are_unavailable(run_dir, tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "device-site"
    blocker.mkdir()
    (blocker / "tensorflow.py").write_text("raise ImportError('no TensorFlow on this device')\n")
    monkeypatch.setenv("PYTHONPATH", str(blocker))  # the worker processes see the device's packages
    out = tmp_path / "report"
    code, _, _ = sign_bench(capsys, run_dir, "--no-pipeline", "--threads", "1", "--repeats", "3", "--out", out,
                            "-q")
    assert code == 0  # what is not installed is not a failure
    report = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    rows = {r["name"]: r for r in report["classifier"]["rows"]}
    for name in (KERAS_PREDICT, KERAS_FUNCTION):
        assert rows[name]["status"] == "unavailable" and "tensorflow" in rows[name]["note"]
    assert all(rows[f.name]["status"] == "ok" for f in FORMATS)
    assert rows["int8"]["accuracy"] >= 0 and rows["int8"]["agreement"] is None  # nothing to agree with
    targets = {t["name"]: t["status"] for t in report["targets"]}
    assert targets["int8_speedup"] == "NOT MEASURED" and targets["f32_agreement"] == "NOT MEASURED"


@pytest.mark.slow
def test_a_file_without_an_embedding_has_no_open_set_timing(demo, tmp_path):  # noqa: F811
    """An older export (one output, no prototypes): the tests' tiny model, converted without export-tflite."""
    from test_recognizer import SPEC

    features = tmp_path / "features.npy"
    np.save(features, np.zeros((2, SPEC.frames, SPEC.num_features), np.float32))
    result = worker({"name": "int8", "kind": "classifier", "path": str(demo.models["int8"]), "threads": 1,
                     "features": str(features), "spec": SPEC.to_dict(), "calls": 3, "warmup": 1})
    assert result["status"] == "ok", result.get("error")
    assert result["timing"]["n"] == 3 and result["openset"] is None


# -------------------------------------------------------------------------------------- pipeline

@pytest.mark.slow
@pytest.mark.shared
def test_pipeline_on_the_shared_videos(run_dir, ksl_videos, hand_task, lite_task, tmp_path, capsys):
    out = tmp_path / "report"
    code, stdout, _ = sign_bench(capsys, run_dir, "--no-classifier", "--max-videos", "1", "--widths", "320",
                                 "--threads", "1", "--hand-model", hand_task, "--hand-model-lite", lite_task,
                                 "--out", out, "-q")
    assert code == 0
    report = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    assert report["videos"] == [str(ksl_videos[0])]
    assert Path(report["pipeline_model"]).name == "model_int8.tflite"
    rows = {(r["backend"], r["model"]): r for r in report["pipeline"]}
    assert set(rows) == {("litert", "full"), ("litert", "lite"), ("mediapipe", "full")}
    frames = rows[("litert", "full")]["frames"]
    for row in rows.values():
        if row["status"] == "unavailable":  # mediapipe not installed here
            continue
        assert row["status"] == "ok", row["note"]
        assert row["width"] == "320" and row["size"] == "320x180"
        assert row["frames"] == frames > 30  # every frame but the warm-up one, the same frames for every backend
        for stage in ("decode", "landmarks"):
            assert row[stage]["n"] == frames and row[stage]["mean_ms"] > 0
        assert row["fps"] > 0 and row["landmark_fps"] > row["fps"]  # the landmark stage alone is faster than all
    signed = rows[("litert", "full")]
    assert signed["signs"] >= 1 and signed["inference"]["n"] == signed["signs"]
    assert signed["latency"]["total_p50_ms"] >= signed["latency"]["wait_p50_ms"] > 0
    assert "320x180" in stdout and "litert" in stdout
    landmark_targets = [t for t in report["targets"] if t["name"].startswith("landmarks")]
    assert [t["status"] for t in landmark_targets] == ["NOT MEASURED"]  # 640 px was not run
    assert "## Pipeline" in (out / "bench.md").read_text(encoding="utf-8")
    assert (out / "bench.png").read_bytes()[:8] == PNG_MAGIC


@pytest.mark.slow
@pytest.mark.shared
def test_pipeline_on_a_video_given_by_path(run_dir, hand_task, tmp_path, capsys):
    cv2 = pytest.importorskip("cv2")
    clip = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 30, (320, 240))
    for i in range(20):  # a plain grey ramp: no hands, so no sign, but every stage still runs
        writer.write(np.full((240, 320, 3), 40 + 8 * i, np.uint8))
    writer.release()
    out = tmp_path / "report"
    code, _, _ = sign_bench(capsys, run_dir, "--no-classifier", "--video", clip, "--widths", "0,160", "--threads",
                            "1", "--hand-model", hand_task, "--hand-model-lite", hand_task, "--pipeline-format",
                            "f32", "--out", out, "-q")
    assert code == 0
    report = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    assert report["videos"] == [str(clip)] and Path(report["pipeline_model"]).name == "model_f32.tflite"
    litert = [r for r in report["pipeline"] if r["backend"] == "litert" and r["model"] == "full"]
    assert [(r["width"], r["size"]) for r in litert] == [("native", "320x240"), ("160", "160x120")]
    assert all(r["frames"] == 19 and r["signs"] == 0 and r["latency"] == {} for r in litert)


# ------------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("videos, message", [
    (["absent.mp4"], "absent.mp4: video file not found"),
    ([], "--video was given no file"),
    (["empty-folder"], "no video files in this folder"),
    (["not-a-video.mp4"], "cannot open as a video"),
])
def test_bad_videos_are_one_line_and_nothing_is_written(fake_run, tmp_path, capsys, videos, message):
    hand_task = tmp_path / "hand_landmarker.task"  # only its presence is checked before the videos
    hand_task.write_bytes(b"zip")
    (tmp_path / "empty-folder").mkdir()
    (tmp_path / "not-a-video.mp4").write_text("hello")
    out = tmp_path / "report"
    code, stdout, err = sign_bench(capsys, fake_run, "--video", *[tmp_path / v for v in videos], "--hand-model",
                                   hand_task, "--out", out)
    assert code == 2
    assert message in one_error_line(err)
    assert not out.exists() and stdout == ""


def test_bad_run_folder_and_flags(fake_run, tmp_path, capsys):
    out = tmp_path / "report"
    (fake_run / "model.keras").unlink()
    code, _, err = sign_bench(capsys, fake_run, "--out", out)
    assert code == 2 and "no model.keras" in one_error_line(err)
    code, _, err = sign_bench(capsys, tmp_path / "nowhere", "--out", out)
    assert code == 2 and "run folder not found" in one_error_line(err)
    (fake_run / "model.keras").write_bytes(b"x")
    for flags, message in ((["--threads", "0"], "--threads must be positive"),
                           (["--threads", "one"], "comma-separated whole numbers"),
                           (["--repeats", "0"], "--repeats must be at least 1"),
                           (["--widths", "8"], "--widths must be 0"),
                           (["--no-classifier", "--no-pipeline", "--no-stages"], "nothing to measure")):
        code, _, err = sign_bench(capsys, fake_run, *flags, "--out", out)
        assert code == 2 and message in one_error_line(err), flags
    assert not out.exists()


# --------------------------------------------------------------------------- the parts, on their own

def test_timer_leaves_out_the_warm_up_calls():
    seen = []
    timing = time_calls(lambda x: seen.append(int(x)), [np.int64(0), np.int64(1), np.int64(2)], calls=5, warmup=4)
    assert seen == [0, 1, 2, 0] + [0, 1, 2, 0, 1]  # 4 warm-up calls, then 5 timed ones cycling over the inputs
    assert timing.n == 5 and timing.p50 <= timing.p95


def test_macro_f1_is_scikit_learns():
    sklearn = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for _ in range(5):
        y, p = rng.integers(0, 5, 40), rng.integers(0, 4, 40)
        assert macro_f1(y, p) == pytest.approx(sklearn.f1_score(y, p, average="macro", zero_division=0))


def test_spread_takes_videos_from_the_whole_list():
    items = [Path(f"{i}.mp4") for i in range(31)]
    assert spread(items, 3) == [items[0], items[15], items[30]]
    assert spread(items, 1) == [items[0]] and spread(items, 0) == items and spread(items[:2], 5) == items[:2]


def test_interleaved_timer_alternates_which_call_goes_first():
    seen = []
    a, b = time_interleaved([lambda x: seen.append(("a", int(x))), lambda x: seen.append(("b", int(x)))],
                            [np.int64(0), np.int64(1)], calls=3, warmup=1)
    assert seen == [("a", 0), ("b", 0)] + [("a", 0), ("b", 0), ("b", 1), ("a", 1), ("a", 0), ("b", 0)]
    assert a.n == b.n == 3


def test_paired_difference_is_the_median_of_the_per_call_differences():
    base, other = Timing([1.0, 5.0, 1.0]), Timing([1.5, 5.1, 9.0])  # one slow spell hit both in call 2
    assert paired_difference(base, other) == pytest.approx(0.5)  # differences 0.5, 0.1, 8.0
    with pytest.raises(ValueError, match="same number"):
        paired_difference(base, Timing([1.0]))


def test_open_set_table_shows_a_dash_for_files_without_an_embedding():
    report = _report(0.2, 1.0, 0.9)
    onnx = ClassifierRow("onnx", "model.onnx", "onnxruntime", "none")
    report.rows[-1].openset = {1: {"n": 10, "prototypes": 22, "enrolled": 20, "run_p50_ms": 0.1,
                                   "score_p50_ms": 0.13, "openset_ms": 0.025}}
    report.rows.append(onnx)
    head, body = openset_cells(report)
    assert head == ["format", "prototypes", "run p50 ms 1t", "score p50 ms 1t", "open-set ms 1t"]
    assert body == [["int8", "22 (20 enrolled)", "0.100", "0.130", "0.025"], ["onnx", "-", "-", "-", "-"]]


def _report(int8_p50: float, int8_agreement: float, int8_accuracy: float) -> ClassifierReport:
    def row(name: str, p50: float, agreement: float, accuracy: float) -> ClassifierRow:
        r = ClassifierRow(name, name, "litert", "none", accuracy=accuracy, agreement=agreement)
        r.latency = {1: {"p50_ms": p50, "p95_ms": p50}}
        return r

    keras_fn, keras = row(KERAS_FUNCTION, 1.0, 1.0, 0.9), row(KERAS_PREDICT, 30.0, 1.0, 0.9)
    int8 = row("int8", int8_p50, int8_agreement, int8_accuracy)
    int8.speedup = {1: keras_fn.latency[1]["p50_ms"] / int8_p50}
    return ClassifierReport("run", "run/export", "test split", 50, ["a", "b"], [1], 10, 1, [keras, keras_fn, int8])


def test_targets_pass_and_miss_by_how_much():
    good = {t.name: t for t in evaluate_targets(_report(0.2, 0.99, 0.895), [])}
    assert good["int8_speedup"].status == "PASS" and good["int8_speedup"].measured == "5.0x"
    assert good["int8_agreement"].status == "PASS"
    slow = {t.name: t for t in evaluate_targets(_report(0.25, 0.98, 0.88), [])}
    assert slow["int8_speedup"].status == "MISS" and "short by 1.0x" in slow["int8_speedup"].margin
    assert slow["int8_agreement"].status == "MISS" and "-2.0 pt vs Keras" in slow["int8_agreement"].margin
    assert "differ" not in slow["int8_agreement"].margin  # no per-sequence margins recorded: nothing said
    near_tie = _report(0.2, 0.98, 0.88)
    near_tie.rows[-1].n, near_tie.rows[-1].disagreement_margins = 50, [0.0123]
    said = {t.name: t for t in evaluate_targets(near_tie, [])}["int8_agreement"].margin
    assert "1 of 50 differ(s), where Keras's own top-2 margin was 0.012" in said

    def lm(fps: float) -> PipelineRow:
        return PipelineRow("640", "640x360", "litert", "full", "1", landmark_fps=fps)

    assert [t.status for t in evaluate_targets(None, [lm(25.0), lm(24.9)])] == ["PASS", "MISS"]
    assert "short by 0.1 frames/s" in evaluate_targets(None, [lm(24.9)])[0].margin


def test_each_disagreement_keeps_how_close_keras_itself_was():
    reference = np.array([[0.51, 0.49, 0.0], [0.9, 0.05, 0.05], [0.2, 0.7, 0.1]], np.float32)
    probs = np.array([[0.48, 0.52, 0.0], [0.9, 0.05, 0.05], [0.6, 0.3, 0.1]], np.float32)  # a near-tie, a real flip
    row = ClassifierRow("int8", "m.tflite", "litert", "int8")
    _quality(row, probs, np.array([0, 0, 1]), reference)
    assert row.agreement == pytest.approx(1 / 3) and row.disagreement_margins == [0.02, 0.5]

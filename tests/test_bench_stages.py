"""sign-bench's per-stage floor table: counted ops, 1-thread time against this core's peak, Pi estimates.

Read like a user's session: the shared hand bundles (skipped where ../shared is absent), a video or generated
frames, and the report's JSON checked for structure and consistency, never for speed.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from test_bench import fake_run, one_error_line, sign_bench  # noqa: F401  (fixtures and helpers of sign-bench tests)

from benchmarks.stages import PI_CORES, count_ops, fc_model, generated_frames
from edge_runtime.landmarks.task_file import DETECTOR, LANDMARKER, read_task


def _check_row(row: dict, peak: dict) -> None:
    """A measured row's figures agree with each other: GFLOP/s from ops and time, eff from the peak, estimates."""
    assert row["status"] == "ok", row["note"]
    assert row["flops"] > 0 and row["calls"] > 0 and row["p50_ms"] > 0
    assert row["gflops"] == pytest.approx(row["flops"] / (row["p50_ms"] / 1000) / 1e9, rel=1e-9)
    basis = peak["int8_gops"] if row["compute"] == "int8" else peak["f32_gflops"]
    assert row["efficiency"] == pytest.approx(row["gflops"] / basis, rel=1e-9)
    assert set(row["estimates"]) == {core.board for core in PI_CORES}
    for core in PI_CORES:
        estimate = row["estimates"][core.board]
        expected = row["flops"] / (core.peak_gflops(row["compute"]) * 1e9 * row["efficiency"]) * 1000
        assert estimate["ms_estimate"] == pytest.approx(expected, rel=1e-9)
        assert estimate["fps_estimate"] == pytest.approx(1000 / expected, rel=1e-9)


@pytest.mark.shared
def test_stage_table_on_a_shared_video_with_an_int8_bundle_next_to_the_float_one(fake_run, hand_task, lite_task,  # noqa: F811
                                                                                 ksl_videos, tmp_path, capsys):
    models = tmp_path / "models"
    models.mkdir()
    full = models / "hand_landmarker.task"
    full.write_bytes(hand_task.read_bytes())
    # A derived bundle the way sign-models names it (the spike's int8 models when there, else a copy: the table
    # must list every precision that exists, whatever it holds).
    spike = Path("/tmp/lmq/run")
    spike_int8_input = (spike / "full_palm.int8.tflite").is_file()  # its palm model takes int8: LiteRTHands refuses
    with zipfile.ZipFile(models / "hand_landmarker_int8.task", "w") as bundle:
        for member, name in ((DETECTOR, "full_palm.int8.tflite"), (LANDMARKER, "full_landmarks.int8.tflite")):
            source = spike / name
            bundle.writestr(member, source.read_bytes() if source.is_file()
                            else getattr(read_task(hand_task), "detector" if member == DETECTOR else "landmarker"))
    out = tmp_path / "report"
    code, stdout, err = sign_bench(capsys, fake_run, "--no-classifier", "--no-pipeline", "--hand-model", full,
                                   "--hand-model-lite", lite_task, "--video", ksl_videos[0], "--stage-calls", "3",
                                   "--out", out, "-q")
    assert code == (1 if spike_int8_input else 0), err  # 1: a bundle whose frames could not run, in its row
    report = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    stages = report["stages"]
    assert stages["calls"] == 3 and ksl_videos[0].name in stages["source"]
    rows = {(r["model"], r["precision"], r["stage"]): r for r in stages["stages"]}
    assert set(rows) == {(m, p, s) for m, p in (("full", "f32"), ("full", "int8"), ("lite", "f32"))
                         for s in ("palm", "landmarks")}
    for row in rows.values():
        _check_row(row, stages["peak"])
        assert row["source"] == "video" and row["calls"] == 3
    assert rows[("full", "f32", "landmarks")]["flops"] == count_ops(read_task(hand_task).landmarker).flops
    assert rows[("full", "f32", "palm")]["ops"]["ops_by_type"]["DEQUANTIZE"] > 0  # float16 weights
    frames = [r for r in stages["frames"] if r["model"] == "full" and r["precision"] == "f32"]
    kinds = {r["stage"] for r in frames}
    assert any("tracking" in k for k in kinds) and any("palm +" in k for k in kinds)
    for row in frames:
        _check_row(row, stages["peak"])
    video_rows = [r for r in frames if r["source"] == "video"]
    assert sum(r["calls"] for r in video_rows) >= 20  # every frame but the warm-up lands in one kind
    if spike_int8_input:
        failed = [r for r in stages["frames"] if r["status"] == "failed"]
        assert [(r["model"], r["precision"]) for r in failed] == [("full", "int8")] and "float32" in failed[0]["note"]
        assert "could not measure full int8 frame" in err
    assert "Per-stage floor" in stdout and "(estimate)" in stdout and "5-9 fps" in stdout
    markdown = (out / "bench.md").read_text(encoding="utf-8")
    assert "## Per-stage floor" in markdown and "ESTIMATES" in markdown
    assert report["stages_skipped"] == "" and report["pipeline"] == []


@pytest.mark.shared
def test_without_a_video_the_stage_table_runs_on_generated_frames(fake_run, hand_task, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "report"
    code, stdout, _ = sign_bench(capsys, fake_run, "--no-classifier", "--no-pipeline", "--hand-model", hand_task,
                                 "--generated-frames", "--stage-calls", "2", "--out", out, "-q")
    assert code == 0
    stages = json.loads((out / "bench.json").read_text(encoding="utf-8"))["stages"]
    assert stages["source"] == "generated frames (no hand: palm detector every frame, worst case)"
    full = [r for r in stages["frames"] if r["model"] == "full"]  # (the lite bundle is there too by default)
    measured = [r for r in full if r["source"] == "generated"]
    assert [r["stage"] for r in measured] == ["frame: palm only (no hand found)"]  # no hand: palm, every frame
    by_stage = {r["stage"]: r for r in stages["stages"] if r["model"] == "full"}
    assert measured[0]["flops"] == by_stage["palm"]["flops"]
    summed = {r["stage"]: r for r in full if r["source"] == "sum of stages"}
    assert summed["frame: palm + 1x landmarks"]["flops"] == by_stage["palm"]["flops"] + by_stage["landmarks"]["flops"]
    assert summed["frame: palm + 1x landmarks"]["p50_ms"] == pytest.approx(by_stage["palm"]["p50_ms"]
                                                                          + by_stage["landmarks"]["p50_ms"])
    for row in stages["stages"] + stages["frames"]:
        _check_row(row, stages["peak"])
    assert "generated frames (no hand: palm detector every frame, worst case)" in stdout


def test_stages_without_a_hand_model_is_one_line(fake_run, tmp_path, capsys):  # noqa: F811
    code, _, err = sign_bench(capsys, fake_run, "--no-classifier", "--no-pipeline", "--stages", "--hand-model",
                              tmp_path / "absent.task", "--out", tmp_path / "report")
    assert code == 2 and "absent.task: file not found" in one_error_line(err)
    code, _, err = sign_bench(capsys, fake_run, "--no-classifier", "--stage-calls", "0", "--out", tmp_path / "r")
    assert code == 2 and "--stage-calls must be at least 1" in one_error_line(err)


def test_generated_frames_are_deterministic_and_hand_free_sized():
    a, b = generated_frames(3), generated_frames(3)
    assert all(x.shape == (480, 640, 3) and x.dtype == np.uint8 for x in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b)) and not np.array_equal(a[0], a[1])


def test_the_peak_probe_counts_as_one_fully_connected_op():
    m, k, n = 8, 16, 4
    for int8 in (False, True):
        count = count_ops(fc_model(m, k, n, int8))
        assert count.flops_by_op == {"FULLY_CONNECTED": 2 * m * k * n}
        assert count.precision == ("int8" if int8 else "f32")


@pytest.mark.slow
def test_the_counter_matches_a_hand_count_on_a_tiny_keras_model():
    tf = pytest.importorskip("tensorflow")
    keras = tf.keras
    model = keras.Sequential([
        keras.Input((8, 8, 3), batch_size=1),
        keras.layers.Conv2D(4, 3),  # 8x8x3 -> 6x6x4, valid padding
        keras.layers.DepthwiseConv2D(3),  # 6x6x4 -> 4x4x4
        keras.layers.Flatten(),  # 64
        keras.layers.Dense(5),
    ])
    content = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    count = count_ops(content)
    conv = 2 * (3 * 3 * 3) * (6 * 6 * 4)  # 2 x KH x KW x Cin per output element
    depthwise = 2 * (3 * 3) * (4 * 4 * 4)  # one input channel per output channel
    dense = 2 * 64 * 5
    assert count.flops_by_op["CONV_2D"] == conv == 7776
    assert count.flops_by_op["DEPTHWISE_CONV_2D"] == depthwise == 1152
    assert count.flops_by_op["FULLY_CONNECTED"] == dense == 640
    assert count.flops == conv + depthwise + dense and count.precision == "f32"
    others = set(count.flops_by_op) - {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}
    assert all(count.flops_by_op[name] == 0 for name in others) and set(count.uncounted) == others  # e.g. RESHAPE

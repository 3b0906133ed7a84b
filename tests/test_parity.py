"""sign-parity: comparing the litert and mediapipe hand backends, as a user runs it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.cli.parity import main
from benchmarks.parity import Tally, match_hands, target_results
from edge_runtime.landmarks import HandFrame

VIDEO = "가족__남편.mp4"


def _frame(**slots: np.ndarray) -> HandFrame:
    frame = HandFrame()
    for name, points in slots.items():
        slot = {"left": 0, "right": 1}[name]
        frame.landmarks[slot] = points
        frame.present[slot] = True
        frame.score[slot] = 0.9
    return frame


def _hand(x: float) -> np.ndarray:
    pts = np.zeros((21, 3), np.float32)
    pts[:, 0] = x + np.linspace(0, 0.05, 21)
    pts[:, 1] = 0.5 + np.linspace(0, 0.08, 21)
    return pts


def test_tally_counts_agreement_distances_and_swapped_handedness():
    tally = Tally()
    left, right = _hand(0.6), _hand(0.3)
    tally.add(_frame(left=left, right=right), _frame(left=left, right=right + np.float32(0.01)), 16 / 9, 5.0, 10.0)
    tally.add(_frame(), _frame(left=left), 16 / 9, 5.0, 10.0)  # litert missed a hand mediapipe found
    tally.add(_frame(left=right, right=left), _frame(left=left, right=right), 16 / 9, 5.0, 10.0)  # slots swapped
    row = tally.summary("clip")
    assert row["frames"] == 3
    assert (row["candidate_frames_with_hand"], row["reference_frames_with_hand"]) == (2, 3)
    assert row["found_agreement"] == pytest.approx(2 / 3)
    assert row["same_slot_hands"] == 4
    assert row["matched_hands"] == 4 and row["handedness_agreement"] == pytest.approx(0.5)
    assert row["median_pct"] > 1.0  # the swapped pair compares two different hands
    assert row["speedup"] == pytest.approx(2.0)
    assert match_hands(_frame(left=right, right=left), _frame(left=left, right=right), 16 / 9) == [(0, 1), (1, 0)]


def test_targets_pass_and_fail_on_the_measured_values():
    good = {"found_agreement": 0.99, "median_pct": 0.01, "p95_pct": 0.2, "handedness_agreement": 0.99}
    assert all(t["pass"] for t in target_results(good).values())
    bad = target_results({**good, "p95_pct": 3.5, "handedness_agreement": float("nan")})
    assert not bad["p95_pct"]["pass"] and not bad["handedness_agreement"]["pass"]
    assert bad["found_agreement"]["pass"]


def test_a_missing_video_is_one_error_line_and_no_report(tmp_path, capsys, hand_task):
    out = tmp_path / "parity.json"
    with pytest.raises(SystemExit) as done:
        main([str(tmp_path / "absent.mp4"), "--hand-model", str(hand_task), "--out", str(out), "-q"])
    assert done.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sign-parity: error:") and "not found" in err[0]
    assert not out.exists()


def test_bad_flags_are_refused(tmp_path, capsys, hand_task):
    with pytest.raises(SystemExit) as done:
        main(["x.mp4", "--hand-model", str(hand_task), "--threads", "0"])
    assert done.value.code == 2
    assert "--threads must be positive" in capsys.readouterr().err


@pytest.fixture(scope="module")
def video(ksl_videos) -> Path:
    if importlib.util.find_spec("edge_runtime.landmarks.mediapipe_tasks") is None:
        pytest.skip("the mediapipe backend module is not there")
    if importlib.util.find_spec("mediapipe") is None:
        pytest.skip("mediapipe is not installed")
    found = [v for v in ksl_videos if v.name == VIDEO]
    if not found:
        pytest.skip(f"needs {VIDEO}")
    return found[0]


def test_compares_both_backends_on_a_real_video(video, hand_task, tmp_path, capsys):
    out = tmp_path / "reports" / "parity.json"
    with pytest.raises(SystemExit) as done:
        main([str(video), "--hand-model", str(hand_task), "--max-frames", "24", "--out", str(out), "-q", "--check"])
    assert done.value.code == 0  # --check: every target met on these frames
    printed = capsys.readouterr().out
    assert VIDEO in printed and "TOTAL" in printed and "FAIL" not in printed
    report = json.loads(out.read_text())
    row = report["videos"][0]
    assert row["frames"] == 24
    assert row["candidate_frames_with_hand"] >= 10 and row["reference_frames_with_hand"] >= 10
    assert report["total"]["median_pct"] < 1.0
    assert set(report["targets"]) == {"found_agreement", "median_pct", "p95_pct", "handedness_agreement"}
    assert report["environment"]["tflite_runtime"]


def test_speed_matrix_times_every_configuration_in_one_run(video, hand_task, lite_task, tmp_path, capsys):
    lite = lite_task
    out = tmp_path / "speed.json"
    with pytest.raises(SystemExit) as done:
        main(["--speed", str(video), "--hand-model", str(hand_task), "--lite-model", str(lite), "--threads", "1",
              "--widths", "320", "--repeat", "1", "--max-frames", "4", "--out", str(out), "-q"])
    assert done.value.code == 0
    rows = json.loads(out.read_text())["speed"]
    timed = {(r["backend"], r["model"]) for r in rows if "ms_mean" in r}
    assert timed == {("mediapipe", "full"), ("litert", "full"), ("litert", "lite")}
    assert all(r["size"] == "320x180" and r["frames"] == 4 for r in rows if "ms_mean" in r)
    refused = [r for r in rows if "error" in r]  # mediapipe's refusal of the lite bundle is measured, not assumed
    assert [(r["backend"], r["model"]) for r in refused] == [("mediapipe", "lite")]
    assert "vs mediapipe full" in capsys.readouterr().out

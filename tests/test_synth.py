"""sign-synth: a user makes the built-in synthetic dataset, loads it, and it behaves like real recordings."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from edge_runtime.dataset import Dataset, Recording
from edge_runtime.hands import joint_angles
from edge_runtime.spec import FeatureSpec
from train.cli.synth import main
from train.synth.config import DEFAULT_WORDS, SynthConfig
from train.synth.hand import HANDSHAPES, ORIENTATIONS, hand_points
from train.synth.recordings import synthesize
from train.synth.signs import sign_templates

SPEC = FeatureSpec()


@pytest.fixture(scope="module")
def default_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default dataset, made once by the command as a user would: ``sign-synth OUT``."""
    out = tmp_path_factory.mktemp("synth") / "data"
    assert main([str(out), "--no-progress"]) == 0
    return out


def test_default_dataset_has_the_five_words_by_eight_signers(default_set: Path) -> None:
    ds = Dataset(default_set)
    assert len(ds) == 125
    assert ds.labels == sorted(DEFAULT_WORDS)
    assert Counter(r.label for r in ds.rows) == {w: 25 for w in DEFAULT_WORDS}
    assert {r.signer for r in ds.rows} == {f"synth-{i:02d}" for i in range(1, 9)}
    per_signer_word = Counter((r.signer, r.label) for r in ds.rows)
    assert set(per_signer_word.values()) <= {3, 4}  # 25 per word dealt round 8 signers
    assert len({r.source_id for r in ds.rows}) == 125  # every recording is its own source
    assert "synth-03-수학-02" in {r.source_id for r in ds.rows}
    assert all(40 <= r.frames <= 100 and r.fps == 30 for r in ds.rows)
    assert ds.validate() == []
    assert ds.info.synthetic is True
    assert "NOT" in ds.info.description and "synthetic" in ds.info.description.lower()


def test_every_recording_gives_finite_model_input(default_set: Path) -> None:
    ds = Dataset(default_set)
    for rec in ds:
        assert rec.aspect == pytest.approx(16 / 9)
        x = SPEC.model_input(rec.hands)
        assert x.shape == (SPEC.frames, SPEC.num_features)
        assert np.isfinite(x).all(), rec.source_id
        assert np.all(rec.landmarks[~rec.present] == 0)  # a missing hand is zeros, as the format says
        assert np.all(rec.score[~rec.present] == 0) and np.all(rec.score[rec.present] > 0)


def test_recordings_look_like_real_clips(default_set: Path) -> None:
    """Hands start low or absent, rise into the sign; the detector drops hands; some signers are left-handed."""
    recs = list(Dataset(default_set))
    dropped = sum(int((~r.present).any()) for r in recs)
    assert dropped > len(recs) // 4
    for rec in recs:
        dominant = 0 if rec.extra["signer_style"]["left_handed"] else 1
        wrist_y = rec.landmarks[:, dominant, 0, 1]
        present = rec.present[:, dominant]
        n = rec.num_frames
        middle = present[n // 3: 2 * n // 3]
        assert middle.any(), rec.source_id
        start_low = (not present[0]) or wrist_y[0] > wrist_y[n // 3: 2 * n // 3][middle].mean()
        assert start_low, rec.source_id
    left = {r.signer for r in recs if r.extra["signer_style"]["left_handed"]}
    assert left == {"synth-03", "synth-07"}


def test_left_handed_signers_sign_with_the_left_slot() -> None:
    cfg = SynthConfig(words=("a", "b"), signers=4, per_word=8)
    for rec in synthesize(cfg):
        one_handed = rec.extra["sign"]["hands"] == "one"
        if not one_handed:
            continue
        travel = [np.ptp(rec.landmarks[rec.present[:, h], h, 0, :2], axis=0).sum() if rec.present[:, h].any() else 0.0
                  for h in (0, 1)]
        dominant = 0 if rec.extra["signer_style"]["left_handed"] else 1
        assert travel[dominant] > travel[1 - dominant], rec.source_id


def test_same_seed_gives_identical_arrays_and_another_seed_does_not() -> None:
    cfg = SynthConfig(words=("수학", "형,오빠"), signers=3, per_word=4, seed=7)
    a, b = synthesize(cfg), synthesize(cfg)
    assert [r.source_id for r in a] == [r.source_id for r in b]
    for ra, rb in zip(a, b):
        np.testing.assert_array_equal(ra.landmarks, rb.landmarks)
        np.testing.assert_array_equal(ra.present, rb.present)
        np.testing.assert_array_equal(ra.score, rb.score)
    other = synthesize(SynthConfig(words=cfg.words, signers=3, per_word=4, seed=8))
    assert any(ra.landmarks.shape != ro.landmarks.shape or not np.array_equal(ra.landmarks, ro.landmarks)
               for ra, ro in zip(a, other))
    # the invented signs belong to the words, not to the seed: a second seed gives new signers, same signs
    assert [r.extra["sign"] for r in a] == [r.extra["sign"] for r in other]


def test_words_come_in_confusable_pairs() -> None:
    first, second, third, fourth, fifth = sign_templates(DEFAULT_WORDS)
    assert first.shapes == second.shapes and first.movement != second.movement
    assert third.movement == fourth.movement and third.shapes != fourth.shapes
    assert sum(a != b for a, b in zip(third.shapes, fourth.shapes)) == 1
    assert len({t.key() for t in (first, second, third, fourth, fifth)}) == 5
    assert sign_templates(DEFAULT_WORDS) == [first, second, third, fourth, fifth]


def test_comma_label_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    flags = ["--words", "형,오빠", "일요일", "--signers", "2", "--per-word", "3", "--no-progress"]
    assert main([str(out), *flags]) == 0
    ds = Dataset(out)
    assert ds.labels == ["일요일", "형,오빠"]
    assert Counter(r.label for r in ds) == {"형,오빠": 3, "일요일": 3}
    with open(out / "manifest.csv", encoding="utf-8", newline="") as fh:
        assert sum(row["label"] == "형,오빠" for row in csv.DictReader(fh)) == 3
    assert ds.validate() == []


def test_refuses_a_non_empty_folder_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main([str(out), "--signers", "2", "--per-word", "2", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sign-synth: error:") and "not empty" in err and "--force" in err and "\n" not in err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_force_replaces_an_earlier_dataset(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    assert main([str(out), "--words", "수학", "월세", "--signers", "2", "--per-word", "2", "--no-progress"]) == 0
    (out / "notes.txt").write_text("mine")
    again = ["--words", "일요일", "--signers", "2", "--per-word", "3", "--force", "--no-progress"]
    assert main([str(out), *again]) == 0
    ds = Dataset(out)
    assert ds.labels == ["일요일"] and len(ds) == 3 and ds.validate() == []
    npz = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.npz"))
    assert npz == sorted(r.file for r in ds.rows)  # the old words' files are gone
    assert (out / "notes.txt").read_text() == "mine"  # what the dataset did not list is left alone


@pytest.mark.parametrize("flags, message", [
    (["--frames-min", "60", "--frames-max", "50"], "smaller than --frames-min"),
    (["--signers", "0"], "--signers"),
    (["--per-word", "0"], "--per-word"),
    (["--words", "수학", "수학"], "more than once"),
    (["--words", "a b", "a_b"], "same file name"),
    (["--words", " 수학"], "leading or trailing spaces"),
])
def test_bad_flags_are_one_line_and_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  flags: list[str], message: str) -> None:
    out = tmp_path / "ds"
    assert main([str(out), "--no-progress", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sign-synth: error:") and message in err and "\n" not in err
    assert not out.exists()


def test_help_teaches_with_an_example() -> None:
    res = subprocess.run([sys.executable, "-m", "train.cli.synth", "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0
    text = " ".join(res.stdout.split())  # argparse wraps lines at the terminal width
    assert "example:" in text and "sign-synth data/synth" in text and "NOT the real signs" in text
    assert "recordings per word, spread over the signers (default: 25)" in text


def test_hand_model_bends_where_the_handshape_says() -> None:
    """The kinematic hand: a flat hand has straight fingers, a fist bent ones, 'index' only the index straight."""
    rot = ORIENTATIONS["palm-out"][None]
    wrist = np.zeros((1, 3))

    def angles(name: str) -> np.ndarray:  # 15 joint angles: thumb, index, middle, ring, little (3 each)
        return joint_angles(hand_points(HANDSHAPES[name][None], rot, wrist, 1.0))[0].reshape(5, 3)

    flat, fist, index = angles("flat"), angles("fist"), angles("index")
    assert flat[1:].max() < np.radians(15)
    assert fist[1:, 1].min() > np.radians(80)  # middle joints of the four fingers
    assert index[1, 1:].max() < np.radians(15) and index[2:, 1].min() > np.radians(80)
    points = hand_points(HANDSHAPES["flat"][None], rot, wrist, 1.0)[0]
    assert points[12, 1] > points[9, 1] > points[0, 1]  # fingers point up the image
    assert points[4, 0] > points[20, 0]  # palm to the camera: a right hand's thumb is on the image's right


def summary_features(rec: Recording) -> np.ndarray:
    """Per-recording mean and std over time of the model input: the logistic-regression reference."""
    x = SPEC.model_input(rec.hands)
    return np.concatenate([x.mean(axis=0), x.std(axis=0)])


def augmented(rec: Recording, rng: np.random.Generator) -> Recording:
    """A small variant of one recording (trimmed, shifted, scaled, jittered): what leaks when split carelessly."""
    n = rec.num_frames
    a, b = int(rng.integers(0, n // 10 + 1)), n - int(rng.integers(0, n // 10 + 1))
    lm, pr = rec.landmarks[a:b].copy(), rec.present[a:b].copy()
    lm[..., :2] = (lm[..., :2] - 0.5) * rng.uniform(0.9, 1.1) + 0.5 + rng.normal(0, 0.02, 2)
    lm += rng.normal(0, 0.002, lm.shape).astype(np.float32)
    lm[~pr] = 0
    return Recording(landmarks=lm, present=pr, label=rec.label, fps=rec.fps, source_id=rec.source_id,
                     aspect=rec.aspect)


def reference_accuracies(recs: list[Recording]) -> dict[str, float]:
    """Mean accuracy of a logistic regression on per-recording summaries, under three splits.

    ``signer-grouped``: 2 signers held out per fold (synth-01+02, 03+04, ...), the honest figure;
    ``recording``: stratified 5-fold over recordings, the same signers on both sides;
    ``leaky``: 4 augmented variants of every recording, 5-fold over the variants (one recording on both sides).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    labels = sorted({r.label for r in recs})
    X = np.stack([summary_features(r) for r in recs])
    y = np.array([labels.index(r.label) for r in recs])
    signers = sorted({r.signer for r in recs})
    fold = np.array([signers.index(r.signer) // 2 for r in recs])
    rng = np.random.default_rng(0)
    Xa = np.stack([summary_features(augmented(r, rng)) for r in recs for _ in range(4)])
    ya = np.repeat(y, 4)

    def cv(X: np.ndarray, y: np.ndarray, splits) -> float:
        scores = []
        for train, test in splits:
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)).fit(X[train], y[train])
            scores.append(float((model.predict(X[test]) == y[test]).mean()))
        return float(np.mean(scores))

    with threadpool_limits(1):
        return {
            "signer-grouped": cv(X, y, GroupKFold(n_splits=len(signers) // 2).split(X, y, fold)),
            "recording": cv(X, y, StratifiedKFold(5, shuffle=True, random_state=0).split(X, y)),
            "leaky": cv(Xa, ya, KFold(5, shuffle=True, random_state=0).split(Xa)),
        }


def test_difficulty_new_signers_are_hard_but_learnable() -> None:
    """Calibration: above chance but not solved on held-out signers; a leaky split flatters the same model."""
    pytest.importorskip("sklearn")
    acc = reference_accuracies(synthesize(SynthConfig()))
    assert 0.6 <= acc["signer-grouped"] <= 0.95, acc
    assert acc["leaky"] >= acc["signer-grouped"] + 0.05, acc

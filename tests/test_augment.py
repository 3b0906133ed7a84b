"""Augmentation: each one changes what it should (and only that), mirror twice is identity, and only
training data is ever augmented."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from edge_runtime.features.hands_xy_angles import HAND_COLUMNS, frame_features
from edge_runtime.hands import NUM_HANDS, HandSequence, joint_angles
from edge_runtime.spec import DEFAULT_SPEC
from train.augment import (
    NO_AUGMENT,
    OPS,
    AugmentConfig,
    Augmenter,
    drop_frames,
    jitter,
    mirror,
    rotate,
    scale,
    shift,
    speed,
)

ASPECT = 16 / 9
POS = 42  # per-hand position columns in the spec: wrist (2) + 20 points relative to it (40)
WRIST_COLS = [np.arange(h * POS, h * POS + 2) for h in range(NUM_HANDS)]
SHAPE_COLS = [np.arange(h * POS + 2, (h + 1) * POS) for h in range(NUM_HANDS)]
ANGLE_COLS = np.arange(84, 114)


def hand(wrist: np.ndarray, bend: float, size: float = 0.05) -> np.ndarray:
    """A 21-point hand: five fingers fanned out from the wrist, each bent by ``bend`` at every joint."""
    pts = np.zeros((21, 3))
    pts[0, :2] = wrist
    for f, base_angle in enumerate(np.radians([-50, -20, 0, 20, 40])):
        direction = base_angle - np.pi / 2  # fingers point up the image
        p = wrist.copy()
        for j in range(4):
            step = size * (1.0 if j == 0 else 0.45)
            p = p + step * np.array([np.cos(direction) / ASPECT, np.sin(direction)])
            pts[1 + 4 * f + j, :2] = p
            pts[1 + 4 * f + j, 2] = -0.01 * j * (1 + bend)
            direction += bend * (j > 0)
    return pts


def recording(frames: int = 40) -> HandSequence:
    """Two hands moving along different paths while the fingers slowly curl."""
    t = np.linspace(0.0, 1.0, frames)
    lm = np.zeros((frames, 2, 21, 3))
    for k in range(frames):
        lm[k, 0] = hand(np.array([0.40 + 0.05 * t[k], 0.60 - 0.10 * t[k] ** 2]), bend=0.1 + 0.3 * t[k])
        lm[k, 1] = hand(np.array([0.60 - 0.08 * np.sin(3 * t[k]), 0.55 + 0.04 * t[k]]), bend=0.4 - 0.2 * t[k])
    return HandSequence(lm.astype(np.float32), np.ones((frames, 2), bool), ASPECT)


def features(raw: HandSequence) -> np.ndarray:
    return frame_features(raw)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


CFG = AugmentConfig()


def test_mirror_twice_is_identity_and_mirror_swaps_the_hands():
    raw = recording()
    raw.present[5, 0] = False
    raw.landmarks[5, 0] = 0.0
    once = mirror(raw)
    np.testing.assert_array_equal(once.present, raw.present[:, ::-1])
    xs = raw.landmarks[raw.present][..., 0]
    mid = xs.mean()
    np.testing.assert_allclose(once.landmarks[:, 1, :, 0][raw.present[:, 0]],
                               2 * mid - raw.landmarks[:, 0, :, 0][raw.present[:, 0]], atol=1e-6)
    twice = mirror(once)
    np.testing.assert_array_equal(twice.present, raw.present)
    np.testing.assert_allclose(twice.landmarks, raw.landmarks, atol=1e-6)
    # Mirroring preserves joint angles, now in the other hand's slot.
    np.testing.assert_allclose(features(once)[:, 99:114], features(raw)[:, 84:99], atol=1e-5)


def test_jitter_moves_points_by_a_few_percent_of_the_hand_size_and_keeps_everything_else():
    raw = recording()
    out = jitter(raw, rng(), CFG)
    assert out.landmarks.shape == raw.landmarks.shape
    np.testing.assert_array_equal(out.present, raw.present)
    moved = (out.landmarks - raw.landmarks)[..., :2].copy()
    moved[..., 0] *= ASPECT
    spread = float(np.std(moved))
    assert 0.5 * CFG.jitter * 0.05 < spread < 2.0 * CFG.jitter * 0.05  # hand size is 0.05 here
    assert not np.allclose(features(out), features(raw))


def test_shift_moves_each_hand_rigidly_so_only_wrist_paths_change():
    raw = recording()
    before, after = features(raw), features(shift(raw, rng(1), CFG))
    for h in range(NUM_HANDS):
        np.testing.assert_allclose(after[:, SHAPE_COLS[h]], before[:, SHAPE_COLS[h]], atol=1e-4)
    np.testing.assert_allclose(after[:, ANGLE_COLS], before[:, ANGLE_COLS], atol=1e-4)
    assert np.abs(after[:, WRIST_COLS[0]] - before[:, WRIST_COLS[0]]).max() > 0.05


def test_scale_changes_motion_amplitude_and_hand_proportions():
    raw = recording()
    out = scale(raw, rng(2), CFG)
    before, after = features(raw), features(out)
    assert np.abs(after[:, SHAPE_COLS[1]] - before[:, SHAPE_COLS[1]]).max() > 0.01  # stretched shapes
    wrist_path = lambda r: np.ptp(r.landmarks[:, 0, 0, 1])  # noqa: E731
    ratio = wrist_path(out) / wrist_path(raw)
    assert abs(ratio - 1.0) >= CFG.motion_scale / 3 - 1e-6 and abs(ratio - 1.0) <= CFG.motion_scale + 1e-6


def test_rotate_turns_hand_shapes_but_keeps_3d_joint_angles_and_wrist_paths():
    raw = recording()
    out = rotate(raw, rng(3), CFG)
    before, after = features(raw), features(out)
    np.testing.assert_allclose(out.landmarks[:, :, 0], raw.landmarks[:, :, 0], atol=1e-6)  # wrists stay
    sq = lambda r: r.landmarks * np.array([ASPECT, 1.0, ASPECT], np.float32)  # noqa: E731
    np.testing.assert_allclose(joint_angles(sq(out).astype(np.float64)), joint_angles(sq(raw).astype(np.float64)),
                               atol=1e-4)
    assert np.abs(after[:, SHAPE_COLS[0]] - before[:, SHAPE_COLS[0]]).max() > 0.02


def test_speed_warps_time_but_stays_on_the_original_path():
    raw = recording(60)
    out = speed(raw, rng(4), replace(CFG, trim=0.0))
    assert out.landmarks.shape == raw.landmarks.shape
    np.testing.assert_allclose(out.landmarks[[0, -1]], raw.landmarks[[0, -1]], atol=1e-6)  # no trim: same ends
    assert np.abs(out.landmarks[30] - raw.landmarks[30]).max() > 1e-3  # the middle comes earlier or later
    x_path = out.landmarks[:, 0, 0, 0]  # the left wrist moves right monotonically in the original
    assert np.all(np.diff(x_path) >= -1e-7)
    original = raw.landmarks[:, 0, 0, 0]
    assert x_path.min() >= original.min() - 1e-6 and x_path.max() <= original.max() + 1e-6
    trimmed = speed(raw, rng(4), CFG)
    assert not np.allclose(DEFAULT_SPEC.model_input(trimmed), DEFAULT_SPEC.model_input(raw))


def test_dropout_hides_one_hand_in_a_few_frames_never_all():
    raw = recording(50)
    for seed in range(10):
        out = drop_frames(raw, rng(seed), CFG)
        missing = (~out.present).sum(axis=0)
        assert missing.sum() >= 1 and (missing > 0).sum() == 1
        assert missing.max() <= int(CFG.dropout_frames * 50)
        hidden = ~out.present
        assert np.all(out.landmarks[hidden] == 0.0)
        assert out.present.any(axis=0).all()
    flags = features(drop_frames(raw, rng(0), CFG))[:, [c[-1] for c in HAND_COLUMNS]]
    assert (flags == 0).sum() >= 1


def test_augmenter_rotates_one_op_at_a_time_and_is_reproducible():
    raw = recording()
    aug = Augmenter(replace(CFG, keep_original=0.0, mirror=0.0, dropout=0.0), seed=5)
    seen = [aug(raw, index=3, epoch=e)[1] for e in range(len(OPS))]
    assert sorted(op for applied in seen for op in applied) == sorted(OPS)  # each op once over len(OPS) epochs
    a, _ = aug(raw, 3, 1)
    b, _ = aug(raw, 3, 1)
    np.testing.assert_array_equal(a.landmarks, b.landmarks)
    c, _ = aug(raw, 3, 2)
    assert not np.allclose(a.landmarks, c.landmarks)
    off, applied = Augmenter(NO_AUGMENT)(raw, 0, 0)
    assert applied == [] and off is raw
    with pytest.raises(ValueError, match="unknown augmentation"):
        AugmentConfig(ops=("speed", "zoom"))


def test_only_training_recordings_are_ever_augmented(monkeypatch, tmp_path):
    """A spy on the augmenter during a real 2-epoch fit: it sees training recordings, never val or test."""
    pytest.importorskip("keras")
    from edge_runtime.dataset import ManifestRow, Recording, save_recording, write_manifest
    from train import fit as fit_mod
    from train.evaluate import holdout

    rows = []
    for s in range(4):
        for label, bend in (("a", 0.1), ("b", 0.6)):
            for take in range(2):
                raw = recording(30 + 3 * take + s)
                lm = raw.landmarks.copy()
                lm[..., 0] += 0.01 * s
                lm[:, 1, 1:] = lm[:, 1, :1] + (lm[:, 1, 1:] - lm[:, 1, :1]) * (1 + bend)
                rec = Recording(lm, raw.present, label, 30.0, f"p{s}-{label}-{take}", signer=f"p{s}", aspect=ASPECT)
                name = f"recordings/{rec.source_id}.npz"
                save_recording(tmp_path / name, rec)
                rows.append(ManifestRow.of(name, rec))
    write_manifest(tmp_path, rows)
    seen: list[tuple[int, bytes]] = []
    original = Augmenter.__call__

    def spy(self, raw, index, epoch):
        seen.append((epoch, raw.landmarks.tobytes()))
        return original(self, raw, index, epoch)

    monkeypatch.setattr(Augmenter, "__call__", spy)
    loaded = fit_mod.load_dataset(tmp_path)
    cfg = fit_mod.TrainConfig(sizes={"width": 8, "blocks": 1}, epochs=2, patience=2, batch_size=4)
    result = holdout(loaded, cfg)
    fingerprint = {k: loaded.recordings[k].landmarks.tobytes() for k in range(len(loaded.rows))}
    train_prints = {fingerprint[i] for i in result.split.train}
    for epoch in (0, 1):  # every training recording, in each epoch (a fresh variant), and nothing else
        assert {p for e, p in seen if e == epoch} == train_prints
    assert {e for e, _ in seen} == {0, 1}
    for i in result.split.val + result.split.test:
        assert fingerprint[i] not in {p for _, p in seen}
    assert sum(result.fit.augmentations.values()) >= 2 * len(result.split.train)
    # What the test was scored on is exactly the plain features of the test recordings.
    X_test, y_test = loaded.features(result.split.test), loaded.y[result.split.test]
    from host.features import load_features

    X_file, y_file = load_features(tmp_path, [loaded.rows[i].file for i in result.split.test], DEFAULT_SPEC,
                                   loaded.labels)
    np.testing.assert_array_equal(X_test, X_file)
    np.testing.assert_array_equal(y_test, y_file)
    assert result.test.measured_on.startswith("held-out test split")


def test_the_body_moves_only_with_the_mirror():
    raw = recording()
    pose = np.zeros((raw.num_frames, 33, 4), np.float32)
    pose[:, 11, :2], pose[:, 12, :2] = (0.62, 0.8), (0.38, 0.8)  # shoulders found; every other point is not
    with_body = replace(raw, pose=pose)
    for op in (speed, jitter, shift, scale, rotate):
        assert op(with_body, rng(), CFG).pose is pose
    flipped = mirror(with_body).pose
    mid = float(raw.landmarks[raw.present][..., 0].mean())
    np.testing.assert_allclose(flipped[:, 11, 0], 2 * mid - 0.62, atol=1e-6)
    assert not flipped[:, 0].any()  # an undetected point stays undetected
    np.testing.assert_allclose(mirror(mirror(with_body)).pose, pose, atol=1e-6)

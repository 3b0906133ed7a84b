"""The feature spec's numbers, pinned down with hand-built landmark arrays."""

from __future__ import annotations

import numpy as np
import pytest

from edge_runtime.features.hands_xy_angles import resample
from edge_runtime.features import hands_xy_angles
from edge_runtime.hands import LEFT, RIGHT, HandSequence, joint_angles
from edge_runtime.spec import DEFAULT_SPEC, FeatureSpec, SpecMismatchError, check_same


def frame_features(landmarks, present, aspect: float = 1.0) -> np.ndarray:
    return hands_xy_angles.frame_features(HandSequence(landmarks, present, aspect))

F = DEFAULT_SPEC.num_features
LEFT_POS, RIGHT_POS = slice(0, 42), slice(42, 84)
LEFT_ANG, RIGHT_ANG = slice(84, 99), slice(99, 114)
LEFT_FLAG, RIGHT_FLAG = 114, 115


def straight_hand(wrist=(0.5, 0.5), length=0.02) -> np.ndarray:
    """A flat hand with all five fingers straight, fanned out from the wrist, [21, 3]."""
    pts = np.zeros((21, 3))
    pts[0, :2] = wrist
    for finger in range(5):
        direction = np.array([np.cos(np.pi / 2 + (finger - 2) * 0.25), -np.sin(np.pi / 2 + (finger - 2) * 0.25), 0])
        for joint in range(4):
            pts[1 + finger * 4 + joint] = pts[0] + direction * length * (joint + 2)
    return pts


def bent_index(pts: np.ndarray) -> np.ndarray:
    """Bend the index finger 90 degrees at its middle joint (PIP, landmark 6)."""
    out = pts.copy()
    bone = out[6] - out[5]
    turned = np.array([-bone[1], bone[0], 0.0])
    out[7] = out[6] + turned
    out[8] = out[7] + turned
    return out


def two_hands(n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    lm = np.zeros((n, 2, 21, 3))
    for t in range(n):
        lm[t, LEFT] = straight_hand((0.3 + 0.01 * t, 0.6))
        lm[t, RIGHT] = bent_index(straight_hand((0.7, 0.6 - 0.02 * t)))
    return lm, np.ones((n, 2), bool)


def test_layout_is_the_seed_layout_plus_two_presence_flags():
    assert DEFAULT_SPEC.id == "hands-xy-angles-v1"
    assert F == 42 + 42 + 15 + 15 + 2 == 116
    assert DEFAULT_SPEC.frames == 64


def test_straight_finger_has_zero_angles_and_a_right_angle_is_half_pi():
    straight = joint_angles(straight_hand())
    assert straight.shape == (15,)
    np.testing.assert_allclose(straight, 0.0, atol=1e-6)
    bent = joint_angles(bent_index(straight_hand()))
    # index finger = angles 3, 4, 5: MCP (straight), PIP (90 degrees), DIP (straight)
    np.testing.assert_allclose(bent[[3, 4, 5]], [0.0, np.pi / 2, 0.0], atol=1e-6)
    np.testing.assert_allclose(np.delete(bent, [3, 4, 5]), 0.0, atol=1e-6)


def test_angles_are_scaled_to_unit_range_in_features():
    lm, present = two_hands(1)
    feats = frame_features(lm, present)
    np.testing.assert_allclose(feats[0, LEFT_ANG], 0.0, atol=1e-6)
    assert feats[0, RIGHT_ANG][4] == pytest.approx(0.5, abs=1e-6)


def test_features_do_not_change_when_the_whole_recording_is_shifted_or_scaled():
    lm, present = two_hands()
    base = frame_features(lm, present)
    moved = lm * 1.7 + np.array([0.11, -0.23, 0.05])
    np.testing.assert_allclose(frame_features(moved, present), base, atol=1e-5)


def test_hand_shape_does_not_depend_on_hand_size_but_motion_is_kept():
    lm, present = two_hands()
    feats = frame_features(lm, present)
    # finger points relative to the wrist, divided by hand size: the same every frame for a rigid hand
    np.testing.assert_allclose(feats[:, 2:42], feats[:1, 2:42].repeat(len(feats), 0), atol=1e-5)
    # the wrists moved (left to the right, right upwards): their positions differ frame to frame
    assert np.all(np.diff(feats[:, 0]) > 0)
    assert np.all(np.diff(feats[:, 43]) < 0)


def test_aspect_makes_x_and_y_one_unit():
    """A hand rotated 90 degrees in pixels has the same angles once the aspect is applied."""
    hand = straight_hand((0.5, 0.5))
    wide = hand.copy()
    wide[:, 0] = 0.5 + (hand[:, 0] - 0.5) * 9 / 16  # as a 16:9 frame stores it
    lm = np.zeros((1, 2, 21, 3))
    lm[0, LEFT] = wide
    present = np.array([[True, False]])
    square = np.zeros_like(lm)
    square[0, LEFT] = hand
    np.testing.assert_allclose(frame_features(lm, present, aspect=16 / 9), frame_features(square, present), atol=1e-6)


def test_missing_hand_is_explicit_not_a_zero_point():
    lm, present = two_hands(3)
    present[1, RIGHT] = False
    lm[1, RIGHT] = 0.0  # what a detector stores for a missing hand
    feats = frame_features(lm, present)
    assert feats[1, RIGHT_FLAG] == 0.0 and feats[1, LEFT_FLAG] == 1.0
    assert np.all(feats[1, RIGHT_POS] == 0) and np.all(feats[1, RIGHT_ANG] == 0)
    assert feats[0, RIGHT_FLAG] == 1.0


def test_missing_hand_does_not_shift_the_other_hand():
    lm, present = two_hands(4)
    only_left = present.copy()
    only_left[:, RIGHT] = False
    garbage = lm.copy()
    garbage[:, RIGHT] = 123.0  # whatever sits in a missing slot must not matter
    np.testing.assert_allclose(frame_features(garbage, only_left), frame_features(lm, only_left), atol=0)


def test_no_hands_at_all_gives_zeros_and_nan_points_count_as_missing():
    lm, _ = two_hands(3)
    assert not frame_features(lm, np.zeros((3, 2), bool)).any()
    bad = lm.copy()
    bad[0, LEFT, 4, 0] = np.nan
    feats = frame_features(bad, np.ones((3, 2), bool))
    assert feats[0, LEFT_FLAG] == 0.0 and np.isfinite(feats).all()


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match=r"\[N, 2, 21, 3\]"):
        frame_features(np.zeros((3, 21, 3)), np.ones((3, 2), bool))
    with pytest.raises(ValueError, match="present"):
        frame_features(np.zeros((3, 2, 21, 3)), np.ones((3,), bool))


def test_resample_interpolates_in_time_to_fixed_length():
    seq = np.zeros((3, F), np.float32)
    seq[:, LEFT_FLAG] = 1
    seq[:, 0] = [0.0, 1.0, 2.0]
    out = resample(seq, 5)
    assert out.shape == (5, F)
    np.testing.assert_allclose(out[:, 0], [0.0, 0.5, 1.0, 1.5, 2.0])
    assert resample(seq, 3)[:, 0].tolist() == [0.0, 1.0, 2.0]
    assert resample(seq[:1], 4).shape == (4, F)


def test_resample_never_blends_a_hand_with_a_missing_frame():
    seq = np.zeros((2, F), np.float32)
    seq[0, LEFT_FLAG] = 1
    seq[0, 0:42] = 0.8  # present in frame 0, missing in frame 1
    out = resample(seq, 5)  # t = 0, .25, .5, .75, 1
    assert out[:, LEFT_FLAG].tolist() == [1, 1, 0, 0, 0]
    np.testing.assert_allclose(out[:, 0], [0.8, 0.8, 0.0, 0.0, 0.0])


def test_model_input_has_static_shape_for_any_length():
    for n in (1, 7, 64, 200):
        lm, present = two_hands(n)
        x = DEFAULT_SPEC.model_input(HandSequence(lm, present, 16 / 9))
        assert x.shape == (64, F) and x.dtype == np.float32


def test_spec_round_trips_and_refuses_what_it_cannot_compute():
    spec = FeatureSpec(frames=32)
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(SpecMismatchError, match="hands-xy-angles-v2"):
        FeatureSpec.from_dict({**spec.to_dict(), "version": 2})
    with pytest.raises(SpecMismatchError, match="features per frame"):
        FeatureSpec.from_dict({**spec.to_dict(), "num_features": 114})
    with pytest.raises(SpecMismatchError, match="malformed"):
        FeatureSpec.from_dict({"name": "hands-xy-angles"})
    with pytest.raises(SpecMismatchError, match="uses feature spec other-v1"):
        check_same(DEFAULT_SPEC, FeatureSpec(name="other"), "model.tflite")

"""The registry of feature specs: the default gives the same bits as before, body specs need a pose, and a
pipeline refuses a spec it cannot compute in one line."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from edge_runtime.features import body_reference
from edge_runtime.hands import LEFT, RIGHT, HandSequence, hand_activity, mirror
from edge_runtime.spec import (
    DEFAULT_SPEC,
    HANDS,
    LAYOUTS,
    POSE,
    FeatureSpec,
    SpecMismatchError,
    check_computable,
)


def fixed_hands(aspect: float = 16 / 9) -> HandSequence:
    """37 frames of random hands (some missing), the same every run."""
    rng = np.random.default_rng(20261202)
    n = 37
    lm = rng.uniform(0.2, 0.8, size=(n, 2, 21, 3)).astype(np.float32)
    lm[..., 2] = rng.normal(0, 0.05, size=(n, 2, 21))
    present = rng.random((n, 2)) > 0.2
    return HandSequence(lm, present, aspect)


def with_pose(hands: HandSequence, shoulders=((0.6, 0.7), (0.4, 0.7)), found: bool = True) -> HandSequence:
    pose = np.zeros((hands.num_frames, 33, 4), np.float32)
    if found:
        pose[:, 11, :2], pose[:, 12, :2] = shoulders
        pose[:, 0, :2], pose[:, 2, :2], pose[:, 5, :2] = (0.5, 0.4), (0.52, 0.38), (0.48, 0.38)
    return HandSequence(hands.landmarks, hands.present, hands.aspect, pose)


def test_the_default_spec_gives_the_same_bits_as_before_the_registry():
    # sha256 of the model input that edge_runtime/spec.py computed before specs became a registry (commit eaf8d40)
    # for these inputs: the registry moved the code, not a single bit of its output.
    x = DEFAULT_SPEC.model_input(fixed_hands())
    assert x.shape == (64, 116) and x.dtype == np.float32
    assert hashlib.sha256(x.tobytes()).hexdigest() == \
        "aa4589cfa3b26e862e71b5d93ad8dfdef85be2c0cf8d59962efa31f54682ca99"


def test_every_registered_spec_round_trips_and_says_what_it_needs():
    assert set(LAYOUTS) == {"hands-xy-angles-v1", "hands-shoulders-v1", "hands-face-v1", "hands-dominant-v1"}
    for spec_id in LAYOUTS:
        spec = FeatureSpec.by_id(spec_id, frames=32)
        assert spec.id == spec_id and FeatureSpec.from_dict(spec.to_dict()) == spec
        assert spec.model_input(with_pose(fixed_hands())).shape == (32, spec.num_features)
    assert DEFAULT_SPEC.needs == {HANDS}
    assert FeatureSpec.by_id("hands-shoulders-v1").needs == {HANDS, POSE}
    assert FeatureSpec.by_id("hands-face-v1").num_features == 116 + 4
    with pytest.raises(SpecMismatchError, match="unknown feature spec 'hands-knees-v1' \\(known: hands-xy-angles-v1"):
        FeatureSpec.by_id("hands-knees-v1")


def test_the_dominant_spec_gives_one_input_for_a_sign_made_with_either_hand():
    right_handed = fixed_hands()
    lm, present = right_handed.landmarks.copy(), right_handed.present.copy()
    lm[:, LEFT] = lm[0, LEFT]  # the left hand rests where it is: the right one signs
    right_handed = HandSequence(lm, present, right_handed.aspect)
    left_handed = mirror(right_handed)  # the same sign by a left-handed person (or a mirrored camera)
    assert hand_activity(right_handed)[RIGHT] > hand_activity(right_handed)[LEFT] == 0.0
    spec = FeatureSpec.by_id("hands-dominant-v1")
    np.testing.assert_allclose(spec.model_input(left_handed), spec.model_input(right_handed), atol=1e-5)
    np.testing.assert_array_equal(spec.model_input(right_handed), DEFAULT_SPEC.model_input(right_handed))
    assert np.abs(DEFAULT_SPEC.model_input(left_handed) - DEFAULT_SPEC.model_input(right_handed)).max() > 0.5
    # Neither hand moves: kept as it is.
    still = HandSequence(np.repeat(lm[:1], 5, axis=0), np.ones((5, 2), bool), right_handed.aspect)
    np.testing.assert_array_equal(spec.model_input(still), DEFAULT_SPEC.model_input(still))


def test_a_body_spec_is_the_hands_plus_each_wrist_relative_to_the_body():
    hands = with_pose(fixed_hands(aspect=1.0))
    spec = FeatureSpec.by_id("hands-shoulders-v1")
    x = spec.model_input(hands)
    np.testing.assert_array_equal(x[:, :116], DEFAULT_SPEC.model_input(hands))
    # Moving the body right by 0.1 (in shoulder widths: 0.1 / 0.2 = 0.5) moves each present wrist's value left by 0.5.
    moved = with_pose(fixed_hands(aspect=1.0), shoulders=((0.7, 0.7), (0.5, 0.7)))
    y = spec.model_input(moved)
    for k, hand in enumerate((LEFT, RIGHT)):
        shown = x[:, 114 + hand] > 0.5
        np.testing.assert_allclose(y[shown, 116 + 2 * k] - x[shown, 116 + 2 * k], -0.5, atol=1e-5)
        assert not x[~shown, 116 + 2 * k:118 + 2 * k].any()
    # No pose found: the body columns are zeros, the hands unchanged.
    blind = spec.model_input(with_pose(fixed_hands(aspect=1.0), found=False))
    assert not blind[:, 116:].any() and np.array_equal(blind[:, :116], x[:, :116])
    assert body_reference.reference_points(None, "face") is None


def test_a_pipeline_refuses_a_spec_it_cannot_compute_in_one_line():
    check_computable(DEFAULT_SPEC, frozenset({HANDS}), "model m.tflite", "this device pipeline")
    with pytest.raises(SpecMismatchError) as err:
        check_computable(FeatureSpec.by_id("hands-shoulders-v1"), frozenset({HANDS}), "model m.tflite",
                         "this device pipeline")
    text = str(err.value)
    assert "\n" not in text and "hands-shoulders-v1" in text and "body pose landmarks" in text
    assert "this device pipeline computes hand landmarks only" in text

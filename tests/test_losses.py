"""The training loss that tolerates wrong labels (`sign-train --loss gce`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from helpers import FAST_TRAIN as FAST  # noqa: E402
from helpers import exit_code  # noqa: E402

from host.losses import DEFAULT_GCE_Q, LOSSES, GeneralizedCrossEntropy, make_loss  # noqa: E402
from train.cli.train import build_parser, main  # noqa: E402
from train.synth.config import SynthConfig  # noqa: E402
from train.synth.writer import make_dataset  # noqa: E402


def value(loss: keras.losses.Loss, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(loss.call(y, p.astype(np.float32)))


def test_gce_is_the_formula_cross_entropy_at_small_q_and_bounded():
    y = np.array([0, 2, 1])
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    p_y = np.array([0.7, 0.8, 0.3])
    np.testing.assert_allclose(value(GeneralizedCrossEntropy(0.7), y, p), (1 - p_y**0.7) / 0.7, rtol=1e-5)
    np.testing.assert_allclose(value(GeneralizedCrossEntropy(1e-4), y, p), -np.log(p_y), rtol=1e-3)
    # A recording the model finds (almost) impossible costs at most 1/q, where cross-entropy explodes.
    hopeless = np.array([[1.0, 0.0, 0.0]])
    assert value(GeneralizedCrossEntropy(0.7), np.array([2]), hopeless)[0] == pytest.approx(1 / 0.7, rel=1e-4)
    with pytest.raises(ValueError, match="q must be in"):
        GeneralizedCrossEntropy(0.0)


def test_a_wrong_label_pulls_less_under_gce_than_under_cross_entropy():
    """The point of the loss: the gradient from a recording the model is sure is another sign is small."""
    import tensorflow as tf

    logits = tf.Variable([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0]])
    y = np.array([2, 1])  # the first is "mislabelled" (model is sure it is class 0), the second agrees

    def grads(loss: keras.losses.Loss) -> np.ndarray:
        with tf.GradientTape() as tape:
            per = loss.call(y, tf.nn.softmax(logits))
        return np.linalg.norm(tape.jacobian(per, logits).numpy().sum(axis=1), axis=1)

    ce = grads(keras.losses.SparseCategoricalCrossentropy(reduction=None))
    gce = grads(GeneralizedCrossEntropy(0.7))
    assert gce[0] / gce.sum() < ce[0] / ce.sum()  # the wrong label's share of the pull shrinks
    assert gce[0] < 0.1 * ce[0]


def test_every_loss_name_is_offered_by_sign_train():
    action = next(a for a in build_parser()._actions if a.dest == "loss")
    assert tuple(action.choices) == LOSSES
    assert next(a for a in build_parser()._actions if a.dest == "gce_q").default == DEFAULT_GCE_Q
    assert make_loss("crossentropy") == "sparse_categorical_crossentropy"
    with pytest.raises(ValueError, match="unknown loss"):
        make_loss("hinge")


def test_sign_train_with_gce_records_it_and_the_model_loads_compiled(tmp_path, capsys):
    data = tmp_path / "data"
    make_dataset(data, SynthConfig(words=("무한", "미국"), signers=4, per_word=6, frames_min=30, frames_max=40))
    code = exit_code(main, [str(data), "-o", str(tmp_path / "run"), "--loss", "gce", "--gce-q", "0.5", *FAST])
    assert code == 0, capsys.readouterr().err
    card = json.loads((tmp_path / "run" / "model_card.json").read_text(encoding="utf-8"))
    assert (card["training"]["loss"], card["training"]["gce_q"]) == ("gce", 0.5)
    model = keras.models.load_model(tmp_path / "run" / "model.keras")  # compile=True: the loss is registered
    assert isinstance(model.loss, GeneralizedCrossEntropy) and model.loss.q == 0.5


@pytest.mark.parametrize("flags, message", [(["--gce-q", "0"], "--gce-q must be in (0, 1]"),
                                            (["--loss", "hinge"], "invalid choice: 'hinge'")])
def test_a_bad_loss_setting_is_one_line(tmp_path: Path, capsys, flags, message):
    data = tmp_path / "data"
    make_dataset(data, SynthConfig(words=("무한", "미국"), signers=3, per_word=3, frames_min=20, frames_max=30))
    code = exit_code(main, [str(data), "-o", str(tmp_path / "run"), *flags, *FAST])
    err = capsys.readouterr().err
    assert code != 0 and message in err.strip().splitlines()[-1]  # argparse's usage may come first
    assert not (tmp_path / "run").exists()


def test_cosface_is_cross_entropy_at_margin_zero_and_the_margin_is_cosface_from_the_probabilities():
    from host.losses import CosineMarginCrossEntropy

    y = np.array([0, 2])
    cos = np.array([[0.8, 0.1, -0.2], [0.3, 0.2, 0.5]])
    scale, margin = 16.0, 0.2
    p = np.exp(scale * cos) / np.exp(scale * cos).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(value(CosineMarginCrossEntropy(scale, 0.0), y, p), -np.log(p[[0, 1], y]), atol=1e-6)
    shifted = scale * cos.copy()
    shifted[[0, 1], y] -= scale * margin  # CosFace: the true class's cosine minus the margin, then the softmax
    expected = -np.log(np.exp(shifted[[0, 1], y]) / np.exp(shifted).sum(axis=1))
    np.testing.assert_allclose(value(CosineMarginCrossEntropy(scale, margin), y, p), expected, atol=1e-5)
    with pytest.raises(ValueError, match="margin must be in"):
        CosineMarginCrossEntropy(scale, 1.5)
    with pytest.raises(ValueError, match="needs a cosine head"):
        make_loss("crossentropy", margin=0.2)


def test_cosine_head_margin_and_background_flags_need_the_cosine_head(tmp_path, capsys):
    data = tmp_path / "data"
    make_dataset(data, SynthConfig(words=("무한", "미국"), signers=3, per_word=3, frames_min=20, frames_max=30))
    for flags, message in ((["--head", "dense", "--margin", "0.2"], "--margin is the cosine head's"),
                           (["--margin", "1.2"], "--margin must be in [0, 1)"),
                           (["--embedding", "1"], "at least 2 dimensions")):
        assert exit_code(main, [str(data), "-o", str(tmp_path / "run"), *flags]) == 2, flags
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, (flags, err)
        assert not (tmp_path / "run").exists()

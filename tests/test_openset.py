"""Signs the model never saw: a model exported with its class prototypes and threshold says "unknown".

The world: synthetic takes of three signs (tests/test_recognizer.py's ``perform``). A ``train.models``
classifier learns two of them; the third (both hands, curled, rising) is never shown to it. Exported as
export-tflite exports (``export.produce``: an embedding output, the class means of the training takes and a
threshold chosen on validation takes), the device's classifier recognises the two known signs and reports the
third as unknown, in float32 and int8 alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from test_recognizer import SPEC, perform, sign_only  # noqa: E402

from edge_runtime.classifier import load_classifier  # noqa: E402
from edge_runtime.dataset import save_recording  # noqa: E402
from edge_runtime.errors import ModelError  # noqa: E402
from edge_runtime.model_info import ModelInfo, read_model_info  # noqa: E402
from edge_runtime.openset import OpenSet, cosines  # noqa: E402
from edge_runtime.recognizer import Recognizer, RecognizerConfig  # noqa: E402
from edge_runtime.replay import RecordingReplay  # noqa: E402
from edge_runtime.segment import Decider, DecisionConfig  # noqa: E402

KNOWN = ("wave", "circle")
UNKNOWN = "형,오빠"

pytestmark = pytest.mark.slow


@dataclass
class World:
    models: dict[str, Path]
    rows: dict[str, object]  # format -> export.verify.Verification
    keras_probs: np.ndarray
    X_check: np.ndarray
    known: list[Path]
    unknown: list[Path]
    openset: OpenSet


def _features(takes) -> np.ndarray:
    return np.stack([SPEC.model_input(sign_only(t)) for t in takes])


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    import keras

    from export.formats import parse_formats
    from export.produce import prepare, produce
    from host.losses import make_loss
    from host.openset import openset_block
    from train.models import build_model

    folder = tmp_path_factory.mktemp("openset")
    rng = np.random.default_rng(3)
    train = [perform(label, rng) for label in KNOWN for _ in range(16)]
    val = [perform(label, rng) for label in KNOWN for _ in range(6)]
    X, y = _features(train), np.array([KNOWN.index(t.label) for t in train])
    X_val, y_val = _features(val), np.array([KNOWN.index(t.label) for t in val])
    keras.utils.set_random_seed(0)
    model = build_model("compact", SPEC, len(KNOWN), width=16, blocks=2)
    model.compile(keras.optimizers.Adam(0.01), make_loss("crossentropy"))
    model.fit(X, y, epochs=40, batch_size=8, verbose=0)
    block = openset_block(model, X, y, X_val, "synthetic takes")
    formats = parse_formats("f32,int8")
    keras_probs = np.asarray(model.predict(X_val, verbose=0), np.float32)
    models, rows = {}, {}
    with prepare(model, SPEC, formats, X_val, keras_probs, X) as conversion:
        for fmt in formats:
            info = ModelInfo(format=fmt.name, labels=list(KNOWN), spec=SPEC, openset=block)
            made = produce(fmt, folder / fmt.filename, conversion, info, X_val, y_val, keras_probs)
            assert made.row.passed, made.row.problems
            models[fmt.name], rows[fmt.name] = folder / fmt.filename, made.row
    test_rng = np.random.default_rng(4)
    known, unknown = [], []
    for k in range(6):
        for label, paths in ((KNOWN[k % 2], known), (UNKNOWN, unknown)):
            path = folder / "takes" / f"{label}-{k}.npz"
            save_recording(path, perform(label, test_rng))
            paths.append(path)
    return World(models, rows, keras_probs, X_val, known, unknown, block)


def test_the_file_has_two_named_outputs_and_describes_its_prototypes(world):
    for fmt, path in world.models.items():
        info = read_model_info(path)
        assert info.openset is not None and info.openset.threshold == pytest.approx(world.openset.threshold)
        np.testing.assert_allclose(info.openset.prototypes, world.openset.prototypes, atol=1e-6)
        clf = load_classifier(path, threads=1)
        assert clf.runner.output.name == "probabilities" and clf.runner.embedding.name == "embedding"
        assert clf.has_embedding and clf.threshold == pytest.approx(world.openset.threshold)
        assert world.rows[fmt].embedding_cosine >= 0.99  # export's gate, int8 included


def test_without_enrolled_words_the_device_gives_the_models_own_probabilities(world):
    f32 = load_classifier(world.models["f32"], threads=1)
    got = np.stack([f32.predict(x) for x in world.X_check])
    np.testing.assert_allclose(got, world.keras_probs, atol=1e-4)
    int8 = load_classifier(world.models["int8"], threads=1)
    got8 = np.stack([int8.predict(x) for x in world.X_check])
    assert (got8.argmax(1) == world.keras_probs.argmax(1)).mean() >= 0.9


@pytest.mark.parametrize("fmt", ["f32", "int8"])
def test_a_sign_the_model_never_saw_is_unknown_and_known_signs_are_recognised(world, fmt):
    clf = load_classifier(world.models[fmt], threads=1)
    for path, expected in [(p, None) for p in world.unknown] + [(p, p.name.split("-")[0]) for p in world.known]:
        [event] = list(Recognizer(RecordingReplay(path), None, clf))
        if expected is None:
            assert not event.known and event.label == "unknown", (path.name, event)
        else:
            assert event.known and event.label == expected, (path.name, event)


def test_threshold_flag_overrides_the_models_own(world):
    clf = load_classifier(world.models["f32"], threads=1)
    [event] = list(Recognizer(RecordingReplay(world.unknown[0]), None, clf,
                              RecognizerConfig(decision=DecisionConfig(threshold=-1.0))))
    assert event.known and event.label in KNOWN  # everything is accepted at -1: the closest known word is named


def test_decider_applies_the_model_threshold_to_the_score_not_the_probability():
    decider = Decider(["a", "b"], DecisionConfig(cooldown_s=0.0), model_threshold=0.6)
    assert decider.threshold == 0.6
    assert not decider.decide(np.array([0.99, 0.01]), 0.0, 1.0, score=0.5).known  # confident, but far from "a"
    assert decider.decide(np.array([0.55, 0.45]), 2.0, 3.0, score=0.7).known
    assert Decider(["a", "b"], DecisionConfig(threshold=0.2), model_threshold=0.6).threshold == 0.2
    assert Decider(["a", "b"]).threshold == 0.5  # a model without its own: the old default on the probability


def test_a_malformed_openset_block_is_one_clear_error():
    good = OpenSet(np.eye(3, dtype=np.float32)[:2], 16.0, 0.5).to_dict()
    assert OpenSet.from_dict(good, ["a", "b"], "m").threshold == 0.5
    for change, message in (({"prototypes": [[1.0, 0.0, 0.0]]}, "expected \\[2 labels"),
                            ({"prototypes": [[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]]}, "not unit vectors"),
                            ({"threshold": 1.5}, "threshold in \\[-1, 1\\]"),
                            ({"score": "energy"}, "not one this runtime computes")):
        with pytest.raises(ModelError, match=message):
            OpenSet.from_dict({**good, **change}, ["a", "b"], "m")
    bad = dict(good)
    del bad["scale"]
    with pytest.raises(ModelError, match="has no 'scale'"):
        OpenSet.from_dict(bad, ["a", "b"], "m")


def test_cosines_of_unit_rows():
    protos = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    np.testing.assert_allclose(cosines(np.array([3.0, 4.0]), protos), [0.6, 0.8], atol=1e-6)

"""edge_runtime.enrollment without a model: how distinct a new word is, and when that earns a warning."""

from __future__ import annotations

import numpy as np
import pytest

from edge_runtime.enrollment import Distinctness, Nearest, distinctness
from edge_runtime.prototypes import PrototypeStore

D = 6


class FakeOpenSet:
    def __init__(self, prototypes: np.ndarray, threshold: float) -> None:
        self.prototypes, self.threshold, self.dim = prototypes, threshold, prototypes.shape[1]


class FakeInfo:
    def __init__(self, labels: list[str]) -> None:
        self.labels = labels


class FakeClassifier:
    """What distinctness reads of a classifier: trained labels, their prototypes, the open-set threshold."""

    def __init__(self, labels: list[str], prototypes: np.ndarray, threshold: float) -> None:
        self.info, self.openset, self.threshold = FakeInfo(labels), FakeOpenSet(prototypes, threshold), threshold


def unit_rows(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def near(axis: int, k: int, noise: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.eye(D)[axis] + noise * rng.standard_normal((k, D))


def test_spread_and_nearest_words_are_mean_cosines():
    examples = unit_rows(np.array([[1.0, 0, 0, 0, 0, 0], [0.6, 0.8, 0, 0, 0, 0]]))
    trained = np.eye(D)[:2]
    clf = FakeClassifier(["hello", "thanks"], trained, threshold=0.9)
    others = PrototypeStore.empty("a" * 64, D, ["hello", "thanks"]).add("tea", np.eye(D)[[2]])
    found = distinctness(examples * 3.0, clf, others)  # lengths do not matter: cosines
    assert found.examples == 2 and found.spread == pytest.approx(0.6)
    assert found.trained == Nearest("hello", pytest.approx(0.8))  # (1 + 0.6) / 2 beats (0 + 0.8) / 2
    assert found.enrolled == Nearest("tea", pytest.approx(0.0))
    assert found.threshold == 0.9
    assert found.describe() == ("the 2 examples' mean similarity to each other is 0.60; to the nearest trained word "
                                "'hello' 0.80 (the model accepts a sign from 0.90); to the nearest enrolled word "
                                "'tea' 0.00")
    # 0.80 < 0.90: the model does not take them for 'hello', but they are nearer to it than to each other
    assert found.warning("milk") == ("'milk' is closer to 'hello' (0.80) than its examples are to each other (0.60): "
                                     "the two will be confused; enroll clearer examples (--force) or a more distinct "
                                     "sign")


def test_examples_the_model_already_accepts_as_a_trained_word_earn_a_warning():
    clf = FakeClassifier(["hello", "thanks"], np.eye(D)[:2], threshold=0.5)
    none = PrototypeStore.empty("a" * 64, D, ["hello", "thanks"])
    on_thanks = distinctness(near(1, 4, 0.2), clf, none)
    assert on_thanks.trained.word == "thanks" and on_thanks.trained.cosine >= 0.5
    assert on_thanks.warning("milk").startswith("the model already takes these examples for 'thanks' (similarity ")
    elsewhere = distinctness(near(4, 4, 0.2), clf, none)
    assert elsewhere.enrolled is None and elsewhere.trained.cosine < 0.5 < elsewhere.spread
    assert elsewhere.warning("milk") is None


def test_one_example_has_no_spread_and_only_the_threshold_can_warn():
    lone = Distinctness(1, None, Nearest("hello", 0.3), None, threshold=0.5)
    assert lone.describe().startswith("one example, so no similarity between examples; ")
    assert lone.warning("milk") is None
    assert Distinctness(1, None, Nearest("hello", 0.6), None, threshold=0.5).warning("milk") is not None

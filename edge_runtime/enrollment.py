"""Teaching the device a word from a few examples: cutting the examples, embedding them, and saying how distinct
the new word is from the words the model already knows.

An example is one sign cut from a camera or a video by the same segmenter ``sign-recognize`` uses
(:meth:`edge_runtime.recognizer.Recognizer.segments`), so the enrolled examples are the cuts the word will later
be recognised from. A recording ``.npz`` is one performance of one sign (``edge_runtime.dataset``), so it is one
example, cut as training cuts it (``host.features.trim_to_sign``): the longest segment, or the whole recording
when the segmenter cuts none (hands that never move from where they appear, a sign shorter than ``min_length``).

Storing the embeddings is :class:`edge_runtime.prototypes.PrototypeStore`'s job; numpy only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from edge_runtime.classifier import Classifier
from edge_runtime.hands import HandSequence
from edge_runtime.landmarks import LandmarkBackend
from edge_runtime.openset import cosines, unit
from edge_runtime.prototypes import PrototypeStore
from edge_runtime.recognizer import Recognizer, RecognizerConfig, RunStats
from edge_runtime.replay import RecordingReplay
from edge_runtime.segment import SegmentConfig

log = logging.getLogger(__name__)

WHOLE_RECORDING = "whole_recording"  # the reason of an example that is a whole recording, not a segment


@dataclass(frozen=True)
class Example:
    """One sign cut from a source: its hands, and where in the source it was (for the user's messages)."""

    hands: HandSequence
    start_s: float
    end_s: float
    reason: str  # why the cut ended (see edge_runtime.segment.Segment), or WHOLE_RECORDING

    @property
    def frames(self) -> int:
        return self.hands.num_frames


class SourceExamples:
    """The examples of one opened source in stream order (a recording is one); ``stats`` counts the frames read."""

    def __init__(self, source: Iterable[tuple[float, Any]], backend: LandmarkBackend | None, classifier: Classifier,
                 config: SegmentConfig | None = None) -> None:
        self.source = source
        self._recognizer = Recognizer(source, backend, classifier, RecognizerConfig(segment=config or SegmentConfig()))

    @property
    def stats(self) -> RunStats:
        return self._recognizer.stats

    def __iter__(self) -> Iterator[Example]:
        cuts = (Example(seg.hands, seg.start_s, seg.end_s, seg.reason) for seg in self._recognizer.segments())
        if not isinstance(self.source, RecordingReplay):
            yield from cuts
            return
        take = max(cuts, key=lambda e: (e.end_s - e.start_s, -e.start_s), default=None)  # as segment.sign_span
        if take is None and self.stats.hand_frames > 0:
            rec = self.source.recording
            log.info("no sign cut from %s; the whole recording is the example", self.source.path)
            take = Example(rec.hands, 0.0, (rec.num_frames - 1) / rec.fps, WHOLE_RECORDING)
        if take is not None:
            yield take


def embed(classifier: Classifier, example: Example) -> np.ndarray:
    """The example's unit-length embedding, computed as the recogniser computes a sign's."""
    return classifier.embed(classifier.spec.model_input(example.hands))


@dataclass(frozen=True)
class Nearest:
    """The known word the examples are most similar to, on average, and that mean cosine similarity."""

    word: str
    cosine: float


@dataclass(frozen=True)
class Distinctness:
    """How tight a new word's examples are, and how near they sit to the words already known.

    ``spread`` is the mean cosine similarity between two of the examples (None with one example). A trained
    word's prototype is a direction the model learned, and its own signs sit well below cosine 1 from it: the
    model's open-set ``threshold`` is where it stops accepting them. So examples whose similarity to a trained
    word reaches that threshold are already taken for that word. An enrolled word's prototype is a mean of
    examples like these, so its similarity compares with ``spread``: examples more similar to another word than
    to each other will be taken for it, and it for them.
    """

    examples: int
    spread: float | None
    trained: Nearest | None
    enrolled: Nearest | None = None
    threshold: float | None = None

    def describe(self) -> str:
        """One line for the user."""
        parts = [f"the {self.examples} examples' mean similarity to each other is {self.spread:.2f}"
                 if self.spread is not None else "one example, so no similarity between examples"]
        if self.trained is not None:
            limit = f" (the model accepts a sign from {self.threshold:.2f})" if self.threshold is not None else ""
            parts.append(f"to the nearest trained word {self.trained.word!r} {self.trained.cosine:.2f}{limit}")
        if self.enrolled is not None:
            parts.append(f"to the nearest enrolled word {self.enrolled.word!r} {self.enrolled.cosine:.2f}")
        return "; ".join(parts)

    def warning(self, word: str) -> str | None:
        """One line when ``word`` will be confused with a known word, else None."""
        advice = "enroll clearer examples (--force) or a more distinct sign"
        trained = self.trained
        if trained is not None and self.threshold is not None and trained.cosine >= self.threshold:
            return (f"the model already takes these examples for {trained.word!r} (similarity {trained.cosine:.2f}, "
                    f"it accepts from {self.threshold:.2f}): {word!r} and {trained.word!r} will be confused; {advice}")
        if self.spread is None:
            return None
        for near in (trained, self.enrolled):
            if near is not None and near.cosine > self.spread:
                return (f"{word!r} is closer to {near.word!r} ({near.cosine:.2f}) than its examples are to each other "
                        f"({self.spread:.2f}): the two will be confused; {advice}")
        return None


def _nearest(rows: np.ndarray, words: Sequence[str], prototypes: np.ndarray) -> Nearest | None:
    if not len(words):
        return None
    mean_sims = cosines(rows, np.asarray(prototypes, np.float32)).mean(axis=0)
    best = int(np.argmax(mean_sims))
    return Nearest(words[best], float(mean_sims[best]))


def distinctness(embeddings: np.ndarray, classifier: Classifier, others: PrototypeStore) -> Distinctness:
    """Measure a new word's ``embeddings`` [k, D] against the classifier's trained words and the words enrolled
    in ``others`` (the store without the new word)."""
    rows = unit(np.asarray(embeddings, np.float32))
    k = rows.shape[0]
    spread = None
    if k > 1:
        pairs = rows @ rows.T
        spread = float((pairs.sum() - np.trace(pairs)) / (k * (k - 1)))
    assert classifier.openset is not None  # only a model with an embedding enrolls
    enrolled, enrolled_protos = others.prototypes()
    return Distinctness(k, spread, _nearest(rows, classifier.info.labels, classifier.openset.prototypes),
                        _nearest(rows, enrolled, enrolled_protos), classifier.threshold)

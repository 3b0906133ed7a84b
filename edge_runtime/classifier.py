"""The sign classifier on the device: one ``predict(features) -> probabilities`` over TFLite or ONNX.

The exported model describes itself (labels, feature spec, T: embedded in the
file, or an older file's sidecar; see ``edge_runtime.model_info``), so the
device never guesses: a model made for another feature spec is refused before
it can silently mis-read the features. The file is opened by
``edge_runtime.model_file.open_model``, the one opener export also verifies
with, which feeds an int8 model with its own scale and zero point. TensorFlow
is never imported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_runtime.errors import ModelError
from edge_runtime.files import sha256_file
from edge_runtime.model_file import ModelRunner, TensorInfo, open_model
from edge_runtime.model_info import ModelInfo, model_info
from edge_runtime.openset import cosines, probabilities, unit
from edge_runtime.prototypes import PrototypeError, PrototypeStore, default_path
from edge_runtime.spec import FeatureSpec, check_same

log = logging.getLogger(__name__)

_SUM_TOLERANCE = 0.05  # an int8 softmax dequantises to a sum within a few percent of 1


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _to_probabilities(raw: np.ndarray) -> np.ndarray:
    """A model's output as probabilities: a softmax output is renormalised, logits are soft-maxed.

    Exported classifiers end in softmax, but an int8 softmax dequantises to a
    sum that is only close to 1; renormalising keeps confidences comparable
    across formats. An output that is clearly not a distribution gets a softmax.
    """
    raw = raw.astype(np.float64)
    total = float(raw.sum())
    if (raw >= 0).all() and abs(total - 1.0) <= _SUM_TOLERANCE:
        return (raw / total).astype(np.float32)
    shifted = np.exp(raw - raw.max())
    return (shifted / shifted.sum()).astype(np.float32)


@dataclass
class Scored:
    """One sign, scored: probabilities over the classifier's labels and the open-set score its threshold applies to.

    ``score`` is the best cosine similarity to a class prototype for a model
    with an embedding (``edge_runtime.openset``), else the top probability.
    """

    probabilities: np.ndarray
    score: float
    embedding: np.ndarray | None = None


class Classifier:
    """An exported sign classifier: ``predict(features [T, F]) -> probabilities [C]``.

    A model with an embedding output (and its ``openset`` description) is
    scored against its class prototypes (a sign far from all of them is
    unknown), and words enrolled on the device (``enroll``) are more
    prototypes: ``labels`` are the trained ones, then the enrolled ones. Use :func:`load_classifier`; it checks the description
    against the runtime and the model file, and reads the enrolled words kept
    beside the model.
    """

    def __init__(self, info: ModelInfo, runner: ModelRunner) -> None:
        self.info = info
        self.runner = runner
        self.openset = info.openset if runner.embedding is not None else None
        self.enrolled: list[str] = []
        self._prototypes = self.openset.prototypes if self.openset is not None else None

    @property
    def has_embedding(self) -> bool:
        return self.openset is not None

    @property
    def threshold(self) -> float | None:
        """The open-set threshold chosen on validation people and stored with the model (None: the model has none)."""
        return self.openset.threshold if self.openset is not None else None

    def enroll(self, store: PrototypeStore) -> None:
        """Score the store's words alongside the trained ones (replacing any enrolled before)."""
        if self.openset is None:
            raise ModelError(f"{self.path.name}: this model has no embedding and class prototypes, so it cannot learn "
                             "words on the device (export it again with this version's export-tflite)")
        words, protos = store.prototypes()
        if words and protos.shape[1] != self.openset.dim:
            raise ModelError(f"{self.path.name}: enrolled prototypes have {protos.shape[1]} values, its embedding "
                             f"{self.openset.dim}")
        clash = sorted(set(words) & set(self.info.labels))
        if clash:
            raise ModelError(f"{self.path.name}: enrolled word(s) {', '.join(clash)} are already trained labels")
        self.enrolled = list(words)
        self._prototypes = np.concatenate([self.openset.prototypes, protos.astype(np.float32)]) if words else \
            self.openset.prototypes

    @property
    def path(self) -> Path:
        return self.runner.path

    @property
    def runtime(self) -> str:
        return self.runner.runtime

    @property
    def labels(self) -> list[str]:
        """The trained labels, then the words enrolled on the device."""
        return self.info.labels + self.enrolled

    @property
    def spec(self) -> FeatureSpec:
        return self.info.spec

    @property
    def frames(self) -> int:
        """T: the number of frames every input is resampled to."""
        return self.info.spec.frames

    @property
    def last_invoke_ms(self) -> float:
        """Milliseconds of the last interpreter call alone (no quantising, no read-out)."""
        return self.runner.last_invoke_ms

    def _run(self, features: np.ndarray) -> dict[str, np.ndarray]:
        features = np.asarray(features, dtype=np.float32)
        expected = (self.frames, self.spec.num_features)
        if features.shape != expected:
            raise ValueError(f"features must have shape {list(expected)}, got {list(features.shape)}")
        return self.runner.run_all(features[None])

    def score(self, features: np.ndarray) -> Scored:
        """Probabilities over ``labels`` and the open-set score for one sign's features [T, F] (see :class:`Scored`).

        A model with prototypes: the score is the best cosine similarity of the
        sign's embedding to any prototype, trained or enrolled. Without enrolled
        words the probabilities are the model's own (what export verified); with
        them, ``softmax(scale * cosine)`` over every prototype, so a new word
        competes with the trained ones on the same footing (each one the mean
        embedding of its recordings). Times the invoke in ``last_invoke_ms``.
        """
        outputs = self._run(features)
        own = _to_probabilities(outputs[self.runner.output.name].reshape(-1))
        if self.openset is None or self._prototypes is None:
            return Scored(own, float(own.max()))
        assert self.runner.embedding is not None  # openset is set only when the file has one
        embedding = unit(outputs[self.runner.embedding.name].reshape(-1))
        sims = cosines(embedding, self._prototypes)
        probs = probabilities(sims, self.openset.scale) if self.enrolled else own
        return Scored(probs, float(sims.max()), embedding)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities over ``labels`` for one sign's features [T, F]; times the invoke in
        ``last_invoke_ms``."""
        return self.score(features).probabilities

    def embed(self, features: np.ndarray) -> np.ndarray:
        """The unit-length embedding of one sign's features [T, F] (what enrollment stores)."""
        if self.runner.embedding is None:
            raise ModelError(f"{self.path.name}: this model has no embedding output (export it again with this "
                             "version's export-tflite)")
        return unit(self._run(features)[self.runner.embedding.name].reshape(-1))


def _check_info(path: Path, info: ModelInfo, expected: FeatureSpec | None, embedding: TensorInfo | None) -> None:
    """The description must be computable here and fit the file's real tensors."""
    if expected is not None:
        check_same(expected, info.spec, f"model {path.name}")
    assert info.input is not None and info.output is not None  # model_info fills them from the file
    want = [1, info.spec.frames, info.spec.num_features]
    shape = list(info.input.shape)
    if len(shape) != 3 or any(real > 0 and real != w for real, w in zip(shape[1:], want[1:])):
        raise ModelError(f"{path}: input shape {shape} does not match its feature spec "
                         f"{info.spec.id} with T={info.spec.frames} (expected {want})")
    if len(info.labels) < 2:
        raise ModelError(f"{path}: its description lists {len(info.labels)} label(s); a classifier needs at least 2")
    if info.output.shape and info.output.shape[-1] > 0 and int(info.output.shape[-1]) != len(info.labels):
        raise ModelError(f"{path}: output shape {info.output.shape} does not match its "
                         f"{len(info.labels)} labels")
    if info.openset is not None and embedding is None:
        raise ModelError(f"{path}: its description has class prototypes but the file has no embedding output")
    if info.openset is not None and embedding is not None and embedding.shape[-1] not in (-1, info.openset.dim):
        raise ModelError(f"{path}: embedding output {embedding.shape} does not match its {info.openset.dim}-value "
                         "prototypes")


def classifier_from_runner(runner: ModelRunner, expected_spec: FeatureSpec | None = None) -> Classifier:
    """The device classifier over an already opened file: its description read and checked, nothing re-opened."""
    info = model_info(runner)
    _check_info(runner.path, info, expected_spec, runner.embedding)
    return Classifier(info, runner)


def load_classifier(path: str | Path, threads: int | None = None, expected_spec: FeatureSpec | None = None,
                    enrolled: bool = True) -> Classifier:
    """Open an exported model and its description, refusing anything this runtime cannot feed correctly.

    ``expected_spec``: refuse a model made for another feature spec (None: any spec this runtime knows;
    whether the device pipeline can compute it is the recognizer's check). ``enrolled``: also score the
    words enrolled with ``sign-enroll`` (``<model>.prototypes.npz`` beside it; one made for another model is
    ignored with a warning, so a re-exported model still recognises its trained words).
    """
    path = Path(path)
    clf = classifier_from_runner(open_model(path, threads), expected_spec)
    store_path = default_path(path)
    if enrolled and clf.has_embedding and store_path.is_file():
        try:
            clf.enroll(PrototypeStore.load(store_path, sha256_file(path), clf.openset.dim))
            log.info("%s: %d enrolled word(s): %s", store_path.name, len(clf.enrolled), ", ".join(clf.enrolled))
        except (PrototypeError, ModelError) as err:  # the trained words still work: say why the others do not
            log.warning("ignoring the enrolled words: %s", err)
    try:  # warm-up: the first invoke plans its kernels; it also proves the model runs at all
        clf.predict(np.zeros((clf.frames, clf.spec.num_features), np.float32))
    except Exception as err:  # interpreter and onnxruntime failures have runtime-specific types
        raise ModelError(f"{path}: the model fails on a test input ({_first_line(err)})") from err
    clf.runner.last_invoke_ms = 0.0
    log.info("classifier %s: %d labels, %s, T=%d, input %s, runtime %s", path.name, len(clf.labels),
             clf.spec.id, clf.frames, clf.runner.input.dtype, clf.runtime)
    return clf


def landmark_mismatch(info: ModelInfo, backend: str, model_sha256: str) -> str | None:
    """A one-line warning when the model was trained on another landmark backend or hand model, else None.

    Different detectors place points slightly differently; the model may still
    work, so this warns instead of refusing.
    """
    problems = []
    if info.landmark_backend and backend and info.landmark_backend != backend:
        problems.append(f"its training data came from the {info.landmark_backend!r} landmark backend, "
                        f"this run uses {backend!r}")
    if info.landmark_model_sha256 and model_sha256 and info.landmark_model_sha256 != model_sha256:
        problems.append(f"its hand model sha256 {info.landmark_model_sha256[:12]}… differs from the one in use "
                        f"({model_sha256[:12]}…)")
    if not problems:
        return None
    return "model card: " + "; ".join(problems) + " (accuracy may drop)"

"""The host's side of open-set recognition: a trained cosine-head model's prototypes, embeddings and threshold.

The device (``edge_runtime.openset``) scores a sign by its best cosine
similarity to the class prototypes; here the same quantities come out of the
Keras model, and the threshold is chosen by a rule stated before any unknown
sign is seen: accept ``ACCEPT`` of the VALIDATION people's recordings of known
signs (people never in training, never in testing). The rule needs no
negative examples, so every run can have it; how well it separates unknown
signs is measured elsewhere (``sign-openset``) on other people.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_runtime.errors import ModelError
from edge_runtime.model_file import EMBEDDING as EMBEDDING_LAYER
from edge_runtime.model_file import PROBABILITIES as HEAD_LAYER
from edge_runtime.openset import OpenSet, cosines, unit
from host.openset_metrics import threshold_at_acceptance

ACCEPT = 0.95  # share of validation recordings of known signs the default threshold accepts


def has_embedding(model: Any) -> bool:
    return any(layer.name == EMBEDDING_LAYER for layer in model.layers)


def head_prototypes(model: Any) -> tuple[np.ndarray, float]:
    """The cosine head's unit class directions [C, D] and its scale; a ModelError for a model without one."""
    import keras

    from host.layers import CosineSoftmax

    layer = model.get_layer(HEAD_LAYER)
    if not isinstance(layer, CosineSoftmax):
        raise ModelError("the model has no cosine head (train it with --head cosine)")
    return np.asarray(keras.ops.convert_to_numpy(layer.prototypes()), np.float32).T, float(layer.scale)


def outputs(model: Any, X: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(probabilities [n, C], logits [n, C], unit embeddings [n, D]) of the Keras model in one pass.

    A cosine head's logits are ``scale * cos`` and its embedding is the layer
    named ``embedding``; a dense head's are its Dense layer's pre-softmax values
    and its embedding is the pooled features (the softmax layer's input) scaled
    to unit length.
    """
    import keras

    from host.layers import CosineSoftmax

    head = model.get_layer(HEAD_LAYER)
    cosine = isinstance(head, CosineSoftmax)
    tap = model.get_layer(EMBEDDING_LAYER).output if cosine else head.input
    both = keras.Model(model.inputs[0], [model.outputs[0], tap])
    probs, feats = both.predict(np.asarray(X, np.float32), batch_size=batch_size, verbose=0)
    feats = np.asarray(feats, np.float32)
    emb = unit(feats)
    if cosine:
        protos, scale = head_prototypes(model)
        logits = scale * emb @ protos.T
    else:
        kernel, bias = head.get_weights()
        logits = feats @ kernel + bias
    return np.asarray(probs, np.float32), np.asarray(logits, np.float32), emb


def embeddings(model: Any, X: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities [n, C], unit embeddings [n, D]) of the Keras model (see :func:`outputs`)."""
    probs, _, emb = outputs(model, X, batch_size)
    return probs, emb


def class_means(emb: np.ndarray, y: np.ndarray, classes: int) -> np.ndarray:
    """Unit-length mean embedding of each class [C, D]: the prototypes of a model whose head has none."""
    protos = np.stack([emb[y == c].mean(axis=0) if np.any(y == c) else np.zeros(emb.shape[1]) for c in
                       range(classes)])
    return (protos / np.maximum(np.linalg.norm(protos, axis=1, keepdims=True), 1e-12)).astype(np.float32)


DISPLAY_SCALE = 16.0  # softmax(scale * cosine) over trained + enrolled prototypes, when words are enrolled


def openset_block(model: Any, X_train: np.ndarray, y_train: np.ndarray, X_val: np.ndarray, split: str,
                  accept: float = ACCEPT) -> OpenSet:
    """What export embeds: each class's prototype (the mean embedding of its TRAINING recordings, the same footing
    as a word enrolled from a few recordings), a scale, and the threshold chosen on the VALIDATION recordings
    ``X_val`` (``split`` says how the run split them: by signer or by source).

    Class means rather than a cosine head's weights: measured by ``sign-openset`` (benchmarks/results/
    openset_enrollment.md), a word enrolled as a mean of its recordings wins the trained words' signs when
    the trained words are represented by head weights (trained accuracy -16 points after enrolling six words)
    and far less against class means (-6 points).
    """
    if not len(X_val):
        raise ModelError("no validation recordings to choose the open-set threshold on")
    probs, _, train_emb = outputs(model, X_train)
    protos = class_means(train_emb, np.asarray(y_train), probs.shape[1])
    _, emb = embeddings(model, X_val)
    threshold = threshold_at_acceptance(cosines(emb, protos).max(axis=1), accept)
    rule = (f"accepts {accept:.0%} of the validation split's known signs ({len(X_val)} recordings, split by "
            f"{split}: never trained or tested on); score: best cosine similarity to a class's mean training "
            "embedding")
    return OpenSet(protos, DISPLAY_SCALE, round(threshold, 6), rule)

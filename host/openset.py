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
from edge_runtime.openset import OpenSet, cosines

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


def embeddings(model: Any, X: np.ndarray, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities [n, C], unit embeddings [n, D]) of the Keras model; the embedding of a dense-head model is its
    pooled features (the softmax layer's input), scaled to unit length."""
    import keras

    tap = model.get_layer(EMBEDDING_LAYER).output if has_embedding(model) else model.get_layer(HEAD_LAYER).input
    both = keras.Model(model.inputs[0], [model.outputs[0], tap])
    probs, emb = both.predict(np.asarray(X, np.float32), batch_size=batch_size, verbose=0)
    emb = np.asarray(emb, np.float32)
    return np.asarray(probs, np.float32), emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)


def choose_threshold(scores: np.ndarray, accept: float = ACCEPT) -> float:
    """The highest threshold that still accepts ``accept`` of ``scores`` (known signs of validation people)."""
    scores = np.asarray(scores, np.float64)
    if not len(scores):
        raise ModelError("no validation recordings to choose the open-set threshold on")
    k = int(np.floor((1.0 - accept) * len(scores)))
    return float(np.sort(scores)[k])


def openset_block(model: Any, X_val: np.ndarray, split: str, accept: float = ACCEPT) -> OpenSet:
    """What export embeds for a cosine-head model: its prototypes, scale, and the threshold chosen on ``X_val``
    (``split`` says how the run split its recordings: by signer or by source)."""
    protos, scale = head_prototypes(model)
    _, emb = embeddings(model, X_val)
    threshold = choose_threshold(cosines(emb, protos).max(axis=1), accept)
    rule = (f"accepts {accept:.0%} of the validation split's known signs ({len(X_val)} recordings, split by "
            f"{split}: never trained or tested on); score: best cosine similarity to a prototype")
    return OpenSet(protos, scale, round(threshold, 6), rule)

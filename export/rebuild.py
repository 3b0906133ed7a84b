"""Rebuild a trained model for conversion: batch fixed to 1, recurrent loops unrolled, the same weights.

Why: with TensorFlow 2.21 / Keras 3.15 a Keras LSTM is a ``while`` loop over a
TensorList whose element shape depends on the batch. Converted as trained, it
needs ``FlexTensorList*`` ops (``model.export(format="litert")`` does that
silently) or leaves resource-variable ops, and neither runs on ai-edge-litert.
With a static batch of 1 and ``unroll=True`` every time step becomes plain
FULLY_CONNECTED / LOGISTIC / TANH / MUL / ADD ops: builtin only, float32
identical to Keras, and the fastest int8 of the paths measured (see
``export.convert`` for the numbers and the paths that lost).

The rebuild is generic: it edits the model's own config (every ``InputLayer``
gets ``batch_shape=(1, T, F)``, every layer config with an ``unroll`` key gets
``True``, including LSTMs nested in ``Bidirectional``) and copies the weights,
so it works for any functional or Sequential model of ``train.models`` without
knowing its builder. ``check_parity`` then proves the copy computes the same
function as the trained model.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import numpy as np

from edge_runtime.errors import ModelError
from edge_runtime.spec import FeatureSpec

log = logging.getLogger(__name__)

PARITY_TOLERANCE = 1e-5  # max |p_clone - p_trained|: only float re-association may differ
PARITY_SAMPLES = 16  # the clone runs eagerly, one sequence at a time; a handful proves the weights landed


def _patch(node: Any, batch_shape: list[int], counts: dict[str, int], unroll: bool) -> None:
    """Walk a Keras config in place: fix input batch shapes, switch recurrent layers to unrolled."""
    if isinstance(node, dict):
        if node.get("class_name") == "InputLayer" and isinstance(node.get("config"), dict):
            node["config"].pop("batch_input_shape", None)  # Keras 2 spelling, if a config still carries it
            node["config"]["batch_shape"] = list(batch_shape)
            counts["inputs"] += 1
        if unroll and "unroll" in node and isinstance(node["unroll"], bool):
            node["unroll"] = True
            counts["unrolled"] += 1
        for value in node.values():
            _patch(value, batch_shape, counts, unroll)
    elif isinstance(node, list):
        for value in node:
            _patch(value, batch_shape, counts, unroll)


def static_clone(model: Any, spec: FeatureSpec, unroll: bool = True) -> Any:
    """``model``'s architecture with input ``[1, T, F]`` (and unrolled recurrences), carrying its weights."""
    try:
        config = copy.deepcopy(model.get_config())
    except NotImplementedError as err:
        raise ModelError("export needs a functional or Sequential Keras model (a subclassed model has no "
                         "config to rebuild it from)") from err
    counts = {"inputs": 0, "unrolled": 0}
    _patch(config, [1, spec.frames, spec.num_features], counts, unroll)
    if counts["inputs"] != 1:
        raise ModelError(f"export needs a model with exactly one InputLayer in its config, found {counts['inputs']}")
    try:
        clone = type(model).from_config(config)
    except Exception as err:  # Keras raises many types when a config cannot be rebuilt
        raise ModelError(f"cannot rebuild the model with a static batch ({type(err).__name__}: {err})") from err
    weights = model.get_weights()
    if [w.shape for w in clone.get_weights()] != [w.shape for w in weights]:
        raise ModelError("the rebuilt model's weights do not line up with the trained model's")
    clone.set_weights(weights)
    if tuple(clone.inputs[0].shape) != (1, spec.frames, spec.num_features):
        raise ModelError(f"the rebuilt model takes {list(clone.inputs[0].shape)}, expected "
                         f"[1, {spec.frames}, {spec.num_features}]")
    log.info("static clone: batch 1, %d recurrent layer(s) unrolled", counts["unrolled"])
    return clone


def check_parity(clone: Any, reference: np.ndarray, X: np.ndarray, samples: int = PARITY_SAMPLES,
                 tolerance: float = PARITY_TOLERANCE) -> float:
    """Max |clone(x) - reference| over the first ``samples`` inputs; a ModelError above ``tolerance``."""
    n = min(samples, len(X))
    import keras

    got = np.concatenate([keras.ops.convert_to_numpy(clone(X[i:i + 1], training=False)) for i in range(n)])
    diff = float(np.abs(got - reference[:n]).max()) if n else 0.0
    if diff > tolerance:
        raise ModelError(f"the batch-1 unrolled rebuild differs from the trained model by {diff:.2e} "
                         f"(> {tolerance:g}); it cannot be exported faithfully")
    return diff


def with_embedding_output(clone: Any) -> Any:
    """The model with two named outputs, ``probabilities`` and ``embedding``, the names the device reads
    (``edge_runtime.model_file``).

    The embedding is the layer named ``embedding`` of a cosine head, else the features the softmax layer reads
    (the pooled features of every ``train.models`` builder) scaled to unit length: a layer without weights added
    here, so any ``train.models`` classifier gets an embedding the device can compare signs and enrolled words in.
    """
    import keras

    from edge_runtime.model_file import EMBEDDING, PROBABILITIES

    names = {layer.name for layer in clone.layers}
    if EMBEDDING in names:
        embedding = clone.get_layer(EMBEDDING).output
    elif PROBABILITIES in names:
        embedding = keras.layers.UnitNormalization(name=EMBEDDING)(clone.get_layer(PROBABILITIES).input)
    else:  # not a train.models classifier: exported as it is, one output
        return clone
    return keras.Model(clone.inputs[0], {PROBABILITIES: clone.outputs[0], EMBEDDING: embedding}, name=clone.name)

"""Training losses: cross-entropy, and one that tolerates wrong labels.

People who record and label their own signs make mistakes (``sign-audit``
finds whole classes swapped or signed differently). Cross-entropy grows
without bound on a recording the model finds unlikely, so a few hundred
wrongly labelled recordings pull the decision boundaries towards themselves
and cost accuracy on everyone else. The generalized cross-entropy of Zhang &
Sabuncu (NeurIPS 2018), ``(1 - p_y ** q) / q``, is bounded: its gradient is
cross-entropy's weighted by ``p_y ** q``, so recordings the model finds very
unlikely weigh little. q -> 0 is cross-entropy, q = 1 is the mean absolute
error (robust but slow to train); the paper's q = 0.7 sits between. It
changes no data: every recording is still trained on, as labelled.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

LOSSES = ("crossentropy", "gce")
DEFAULT_GCE_Q = 0.7
_EPS = 1e-7


@keras.saving.register_keras_serializable(package="signedge")
class GeneralizedCrossEntropy(keras.losses.Loss):
    """``(1 - p_y ** q) / q`` on sparse labels and softmax probabilities."""

    def __init__(self, q: float = DEFAULT_GCE_Q, name: str = "generalized_cross_entropy", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        if not 0.0 < float(q) <= 1.0:
            raise ValueError(f"q must be in (0, 1], got {q}")
        self.q = float(q)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        labels = ops.cast(ops.reshape(y_true, (-1, 1)), "int32")
        p = ops.take_along_axis(ops.reshape(y_pred, (ops.shape(labels)[0], -1)), labels, axis=1)[:, 0]
        p = ops.clip(p, _EPS, 1.0)
        return (1.0 - ops.power(p, self.q)) / self.q

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "q": self.q}


@keras.saving.register_keras_serializable(package="signedge")
class CosineMarginCrossEntropy(keras.losses.Loss):
    """CosFace (Wang et al., CVPR 2018) on the probabilities of a ``host.layers.CosineSoftmax`` head.

    CosFace subtracts a margin ``m`` from the true class's cosine before the
    scaled softmax, so a recording must sit ``m`` closer to its own class
    direction than to any other: classes end up tighter and further apart,
    which is what telling a known sign from an unknown one by its distance
    needs. The layer outputs ``p = softmax(s * cos)``; the margin only rescales
    the true class's term by ``k = exp(-s * m)``, so the loss is computed from
    ``p`` alone: ``-log(k p_y / (k p_y + 1 - p_y))``. ``margin = 0`` is plain
    cross-entropy (NormFace).
    """

    def __init__(self, scale: float = 16.0, margin: float = 0.0, name: str = "cosine_margin_cross_entropy",
                 **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        if not 0.0 <= float(margin) < 1.0:
            raise ValueError(f"margin must be in [0, 1), got {margin}")
        self.scale = float(scale)
        self.margin = float(margin)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        labels = ops.cast(ops.reshape(y_true, (-1, 1)), "int32")
        p = ops.take_along_axis(ops.reshape(y_pred, (ops.shape(labels)[0], -1)), labels, axis=1)[:, 0]
        p = ops.clip(p, _EPS, 1.0)
        k = float(np.exp(-self.scale * self.margin))
        return -ops.log(k * p / (k * p + (1.0 - p) + _EPS))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "margin": self.margin}


def make_loss(name: str, gce_q: float = DEFAULT_GCE_Q, margin: float = 0.0, scale: float = 16.0,
              cosine: bool = False) -> Any:
    """The Keras loss for a ``--loss`` name; a cosine head (``cosine``) with cross-entropy gets
    ``CosineMarginCrossEntropy`` (``margin`` 0: plain cross-entropy on rows that may sum to less than 1)."""
    if margin and (name != "crossentropy" or not cosine):
        raise ValueError(f"a cosine margin needs a cosine head and --loss crossentropy, not {name!r}")
    if cosine and name == "crossentropy":
        return CosineMarginCrossEntropy(scale, margin)
    if name == "crossentropy":
        return "sparse_categorical_crossentropy"
    if name == "gce":
        return GeneralizedCrossEntropy(gce_q)
    raise ValueError(f"unknown loss {name!r} (choose from {', '.join(LOSSES)})")

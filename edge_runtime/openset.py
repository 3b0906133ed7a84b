"""Known or unknown, and which word: a sign's embedding against the model's class prototypes (and enrolled ones).

A model with a cosine head (``train.models.Head``) outputs a unit-length
embedding of the sign, and its last layer is a table of unit-length class
directions: the class prototypes. Export copies that table, the head's scale
and an open-set threshold chosen on validation people into the model's
description (the ``openset`` block), so the device needs nothing else:

- the open-set score of a sign is its best cosine similarity to a prototype;
  below the threshold the sign is unknown;
- the class probabilities are ``softmax(scale * cosines)``, computed here in
  float from the dequantised embedding: what the Keras model computes, without
  the int8 softmax output whose top probabilities all sit on one step near 1;
- a word the user enrolls (``edge_runtime.prototypes``) is one more row in the
  same table, scored the same way.

numpy only; TensorFlow is never imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from edge_runtime.errors import ModelError

OPENSET_KEY = "openset"  # the block's name in the model description
SCORE = "prototype-cosine"  # what the threshold applies to: the best cosine similarity to a prototype


@dataclass(frozen=True)
class OpenSet:
    """The description's ``openset`` block: the class prototypes [C, D] in label order, the scale and threshold."""

    prototypes: np.ndarray
    scale: float
    threshold: float
    rule: str = ""  # how the threshold was chosen, in words (which people, which acceptance)

    @property
    def dim(self) -> int:
        return int(self.prototypes.shape[1])

    def to_dict(self) -> dict[str, Any]:
        return {"score": SCORE, "scale": self.scale, "threshold": self.threshold, "rule": self.rule,
                "outputs": {"probabilities": "the class probabilities, one per label (the int8 file's are coarse: "
                                             "the device recomputes them from the embedding)",
                            "embedding": f"the sign's unit-length embedding, {self.dim} values"},
                "prototypes": np.round(self.prototypes.astype(np.float64), 7).tolist()}

    @classmethod
    def from_dict(cls, data: Any, labels: Sequence[str], where: str) -> "OpenSet":
        """Checked: one unit-length prototype per label, a positive scale, a threshold in [-1, 1]."""
        if not isinstance(data, dict):
            raise ModelError(f"{where}: the {OPENSET_KEY!r} block is not an object")
        if data.get("score", SCORE) != SCORE:
            raise ModelError(f"{where}: open-set score {data.get('score')!r} is not one this runtime computes "
                             f"({SCORE})")
        try:
            protos = np.asarray(data["prototypes"], dtype=np.float32)
            scale, threshold = float(data["scale"]), float(data["threshold"])
        except KeyError as err:
            raise ModelError(f"{where}: the {OPENSET_KEY!r} block has no {err}") from err
        except (TypeError, ValueError) as err:
            raise ModelError(f"{where}: the {OPENSET_KEY!r} block is malformed ({err})") from err
        if protos.ndim != 2 or protos.shape[0] != len(labels) or protos.shape[1] < 2:
            raise ModelError(f"{where}: {OPENSET_KEY} prototypes have shape {list(protos.shape)}, expected "
                             f"[{len(labels)} labels, embedding size]")
        norms = np.linalg.norm(protos, axis=1)
        if not np.isfinite(protos).all() or np.abs(norms - 1.0).max() > 1e-3:
            raise ModelError(f"{where}: {OPENSET_KEY} prototypes are not unit vectors")
        if not (scale > 0 and np.isfinite(scale)) or not -1.0 <= threshold <= 1.0:
            raise ModelError(f"{where}: {OPENSET_KEY} needs a positive scale and a threshold in [-1, 1] "
                             f"(got {scale}, {threshold})")
        return cls(protos, scale, threshold, str(data.get("rule", "")))


def unit(embedding: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (an int8 embedding dequantises to a length near, not at, 1)."""
    e = np.asarray(embedding, np.float32)
    return e / np.maximum(np.linalg.norm(e, axis=-1, keepdims=True), 1e-12)


def cosines(embedding: np.ndarray, prototypes: np.ndarray) -> np.ndarray:
    """Cosine similarity of each embedding row with each prototype row: [n, P] (or [P] for one embedding)."""
    return unit(embedding) @ prototypes.T


def probabilities(sims: np.ndarray, scale: float) -> np.ndarray:
    """``softmax(scale * cosines)`` along the last axis, in float64 and back to float32."""
    z = scale * np.asarray(sims, np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return (z / z.sum(axis=-1, keepdims=True)).astype(np.float32)

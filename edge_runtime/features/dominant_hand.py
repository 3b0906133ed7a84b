"""``hands-dominant-v1``: ``hands-xy-angles-v1`` of the sequence with its more active hand in the right slot.

In-the-wild data mixes left- and right-handed signers, mirrored (selfie) and
un-mirrored cameras, and files whose hand blocks were stored swapped: the
same one-handed sign then arrives in either hand slot, as two different
inputs that a model must learn twice (and cannot, for a person whose side it
never saw). Canonicalising hand dominance (``edge_runtime.hands.dominant_first``:
mirror the sequence when its left hand moves more than its right) gives one.
The layout and its 116 columns are ``hands-xy-angles-v1``'s; what is lost is
the side a sign was made on, which no sign in these vocabularies depends on.
The device computes it from hand landmarks alone, like the default.
"""

from __future__ import annotations

import numpy as np

from edge_runtime.features import hands_xy_angles
from edge_runtime.hands import HandSequence, dominant_first

NUM_FEATURES = hands_xy_angles.NUM_FEATURES


def model_input(hands: HandSequence, frames: int) -> np.ndarray:
    """[frames, 116]: the default spec's features of ``dominant_first(hands)``."""
    return hands_xy_angles.model_input(dominant_first(hands), frames)

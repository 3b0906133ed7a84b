"""Feature specs: a registry keyed by id, and the one way a sequence of hands becomes model input.

The device and the host both call this module, so a model can never be fed
features computed by a second, slightly different copy of the code. A spec's
id (name + version) travels with the dataset, the run and the exported model,
and the runtime refuses a model whose spec it does not know or cannot compute.

Each registered layout says what it needs (hand landmarks only, or hands plus
a body pose) and turns a :class:`~edge_runtime.hands.HandSequence` into the
model input [T, F]. Adding a spec is one module in ``edge_runtime/features/``
and one ``register`` call here; everything downstream (training, export, the
device classifier) reads ``num_features`` and ``model_input`` from the spec.

Registered:

- ``hands-xy-angles-v1`` (the default; ``features/hands_xy_angles.py``): 116 values a frame.
- ``hands-dominant-v1`` (``features/dominant_hand.py``): the default's 116 values after hand-dominance
  canonicalisation (the more active hand in the right slot), for data mixing left- and right-handed signers.
- ``hands-shoulders-v1``, ``hands-face-v1`` (``features/body_reference.py``): the same plus each wrist
  relative to the shoulders or the face, 120 values; they need a pose, which the device pipeline lacks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial
from typing import Any, Callable, Mapping

import numpy as np

from edge_runtime.errors import SignedgeError
from edge_runtime.features import body_reference, dominant_hand, hands_xy_angles
from edge_runtime.hands import HandSequence

HANDS = "hands"  # hand landmarks: what every landmark backend gives
POSE = "pose"  # body landmarks (MediaPipe Pose / Holistic): imported data has them, the device pipeline does not
INPUT_NAMES = {HANDS: "hand landmarks", POSE: "body pose landmarks"}


class SpecMismatchError(SignedgeError, ValueError):
    """A model, run or dataset was made with a feature spec this code does not compute."""


@dataclass(frozen=True)
class Layout:
    """A registered feature layout: its width, what it needs, and how it is computed."""

    name: str
    version: int
    num_features: int
    needs: frozenset[str]
    compute: Callable[[HandSequence, int], np.ndarray]  # (hands, T) -> [T, F]
    summary: str

    @property
    def id(self) -> str:
        return f"{self.name}-v{self.version}"


LAYOUTS: dict[str, Layout] = {}


def register(layout: Layout) -> Layout:
    if layout.id in LAYOUTS:
        raise ValueError(f"feature spec {layout.id} is registered twice")
    LAYOUTS[layout.id] = layout
    return layout


register(Layout("hands-xy-angles", 1, hands_xy_angles.NUM_FEATURES, frozenset({HANDS}), hands_xy_angles.model_input,
                "both hands' wrist paths, shapes and joint angles, and whether each hand is present (116 a frame)"))
for _kind, _what in (("shoulders", "the shoulders"), ("face", "the face")):
    register(Layout(f"hands-{_kind}", 1, hands_xy_angles.NUM_FEATURES + body_reference.BODY_COLUMNS,
                    frozenset({HANDS, POSE}), partial(body_reference.model_input, kind=_kind),
                    f"hands-xy-angles-v1 plus each wrist relative to {_what} (pose needed)"))
register(Layout("hands-dominant", 1, dominant_hand.NUM_FEATURES, frozenset({HANDS}), dominant_hand.model_input,
                "hands-xy-angles-v1 with the more active hand always in the right-hand slot (mirrored when the "
                "left moves more): left- and right-handed signers, mirrored cameras and swapped hand blocks give "
                "one input (116 a frame)"))


@dataclass(frozen=True)
class FeatureSpec:
    """Names a registered feature layout and the fixed sequence length T the models take."""

    name: str = "hands-xy-angles"
    version: int = 1
    frames: int = 64

    @property
    def id(self) -> str:
        return f"{self.name}-v{self.version}"

    @property
    def layout(self) -> Layout:
        """The registered layout; an unknown one is a SpecMismatchError."""
        check_supported(self)
        return LAYOUTS[self.id]

    @property
    def num_features(self) -> int:
        return self.layout.num_features

    @property
    def needs(self) -> frozenset[str]:
        """The landmark inputs this spec computes from: ``hands``, and ``pose`` for a body reference."""
        return self.layout.needs

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "id": self.id, "num_features": self.num_features, "needs": sorted(self.needs)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FeatureSpec":
        """Rebuild a spec from a model card or an exported model's description, refusing one this code cannot compute."""
        try:
            spec = cls(name=str(data["name"]), version=int(data["version"]), frames=int(data["frames"]))
        except (KeyError, TypeError, ValueError) as err:
            raise SpecMismatchError(f"feature spec is incomplete or malformed: {dict(data)!r}") from err
        check_supported(spec)
        if "num_features" in data and int(data["num_features"]) != spec.num_features:
            raise SpecMismatchError(
                f"feature spec {spec.id} says {data['num_features']} features per frame, "
                f"this runtime computes {spec.num_features}"
            )
        return spec

    @classmethod
    def by_id(cls, spec_id: str, frames: int = 64) -> "FeatureSpec":
        """``hands-shoulders-v1`` -> its spec with T = ``frames`` (an unknown id is one line naming the known ones)."""
        name, sep, version = spec_id.rpartition("-v")
        spec = cls(name=name, version=int(version), frames=frames) if sep and version.isdigit() else None
        if spec is None or spec.id not in LAYOUTS:
            raise SpecMismatchError(f"unknown feature spec {spec_id!r} (known: {', '.join(LAYOUTS)})")
        check_supported(spec)
        return spec

    def model_input(self, hands: HandSequence) -> np.ndarray:
        """The model's input [T, F] for one variable-length sign."""
        return self.layout.compute(hands, self.frames)


DEFAULT_SPEC = FeatureSpec()


def check_supported(spec: FeatureSpec) -> None:
    if spec.id not in LAYOUTS:
        raise SpecMismatchError(f"feature spec {spec.id} is not computed by this runtime (it knows: "
                                f"{', '.join(LAYOUTS)})")
    if spec.frames < 2:
        raise SpecMismatchError(f"feature spec {spec.id} asks for T={spec.frames} frames; at least 2 are needed")


def check_same(expected: FeatureSpec, found: FeatureSpec, what: str) -> None:
    """Raise when ``found`` (from a model or dataset) differs from ``expected``."""
    if (expected.name, expected.version) != (found.name, found.version):
        raise SpecMismatchError(f"{what} uses feature spec {found.id}, but this code computes {expected.id}")


def check_computable(spec: FeatureSpec, available: frozenset[str], what: str, pipeline: str) -> None:
    """Refuse a spec that needs an input ``pipeline`` does not produce, in one line naming what is missing."""
    missing = sorted(spec.needs - available)
    if missing:
        names = " and ".join(INPUT_NAMES.get(m, m) for m in missing)
        has = " and ".join(INPUT_NAMES.get(a, a) for a in sorted(available))
        raise SpecMismatchError(f"{what} uses feature spec {spec.id}, which needs {names}; {pipeline} computes "
                                f"{has} only, so it cannot compute this spec")


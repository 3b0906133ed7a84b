"""The invented vocabulary: wrist movements, the sign of every word, and the synthetic signers.

Why a module of its own: what a word looks like depends only on the word
list, and what a signer looks like only on the seed; both are fixed
descriptions that ``recordings`` performs, never arrays of frames.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from train.synth.config import ASPECT, SynthError
from train.synth.hand import HANDSHAPES, LOCATIONS, NEIGHBOURS, ORIENTATIONS, smooth

# --------------------------------------------------------------------------------------------------------------
# Movements: the wrist's path over the sign's phase u in [0, 1], in units of the word's amplitude, plus a roll of
# the hand about its own finger axis (radians). x points toward the body's midline for the right hand.

def movement_path(name: str, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    zero = np.zeros_like(u)
    tau = 2.0 * np.pi
    roll = zero
    if name == "circle":
        path = (0.5 * np.sin(tau * u), 0.5 * (np.cos(tau * u) - 1.0), zero)
    elif name == "circles":  # two small circles, the other way round
        path = (-0.3 * np.sin(2 * tau * u), 0.3 * (np.cos(2 * tau * u) - 1.0), zero)
    elif name == "down":
        path = (zero, -smooth(u), 0.2 * u)
    elif name == "across":
        path = (smooth(u), zero, zero)
    elif name == "diagonal":
        path = (0.7 * smooth(u), 0.7 * smooth(u), zero)
    elif name == "tap":  # two short taps down and back
        path = (zero, -0.35 * np.sin(tau * u) ** 2, 0.1 * np.sin(tau * u) ** 2)
    elif name == "arc":
        path = (u - 0.5, 0.45 * np.sin(np.pi * u), zero)
    elif name == "wave":
        path = (0.25 * np.sin(2.5 * tau * u), zero, zero)
    elif name == "zigzag":
        path = (0.22 * np.sin(2 * tau * u), -u, zero)
    elif name == "twist":  # the wrist stays, the palm turns over
        path = (0.1 * u, zero, zero)
        roll = np.radians(120.0) * smooth(u)
    elif name == "shake":  # the palm rocks back and forth
        path = (zero, 0.05 * np.sin(2 * tau * u), zero)
        roll = np.radians(40.0) * np.sin(2 * tau * u)
    elif name == "away":  # out from the body and up
        path = (-0.8 * smooth(u), 0.35 * smooth(u), 0.3 * u)
    else:
        raise SynthError(f"unknown movement {name!r}")
    return np.stack(path, axis=1), roll


MOVEMENTS = ("circle", "circles", "down", "across", "diagonal", "tap", "arc", "wave", "zigzag", "twist", "shake",
             "away")


# --------------------------------------------------------------------------------------------------------------
# Words.

@dataclass(frozen=True)
class SignTemplate:
    """The invented sign of one word, as performed by the dominant RIGHT hand of an average signer."""

    word: str
    shapes: tuple[str, ...]  # 1-3 handshape keyframes
    orientation: str
    movement: str
    location: str
    hands: str  # "one", "mirror" (both hands, mirror images) or "base" (a static other hand)
    base_shape: str = "flat"
    base_orientation: str = "palm-up"
    amplitude: float = 0.45  # shoulder widths
    duration: float = 36.0  # frames of the sign itself at 30 fps, at the average speed
    twin: str = ""  # the word this one was made confusable with, and how
    differs_by: str = ""

    def key(self) -> tuple[Any, ...]:
        return (self.shapes, self.orientation, self.movement, self.location, self.hands, self.base_shape)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"shapes": list(self.shapes), "orientation": self.orientation,
                               "movement": self.movement, "location": self.location, "hands": self.hands}
        if self.hands == "base":
            out["base"] = {"shape": self.base_shape, "orientation": self.base_orientation}
        if self.twin:
            out["confusable_with"] = {"word": self.twin, "differs_by": self.differs_by}
        return out


def _random_template(word: str, rng: np.random.Generator) -> SignTemplate:
    names = sorted(HANDSHAPES)
    count = int(rng.choice([1, 2, 3], p=[0.5, 0.4, 0.1]))
    shapes = [str(rng.choice(names))]
    while len(shapes) < count:
        shapes.append(str(rng.choice([s for s in names if s != shapes[-1]])))
    hands = str(rng.choice(["one", "mirror", "base"], p=[0.55, 0.25, 0.2]))
    location = str(rng.choice(sorted(LOCATIONS)))
    if hands == "mirror" and LOCATIONS[location][0] > -0.3:
        location = "neutral"  # two mirrored hands would collide at the midline
    if hands == "base":
        location = "chest"
    return SignTemplate(
        word=word, shapes=tuple(shapes), orientation=str(rng.choice(sorted(ORIENTATIONS))),
        movement=str(rng.choice(MOVEMENTS)), location=location, hands=hands,
        base_shape=str(rng.choice(["flat", "fist", "bent"])),
        base_orientation=str(rng.choice(["palm-up", "palm-side"])),
        amplitude=float(rng.uniform(0.35, 0.55)), duration=float(rng.uniform(30.0, 44.0)),
    )


def _twin(first: SignTemplate, word: str, by: str, rng: np.random.Generator) -> SignTemplate:
    """A copy of ``first`` that differs only by its movement, or only by one handshape keyframe (swapped for a
    near neighbour, e.g. index -> l: one finger or the thumb differs)."""
    if by == "movement":
        movement = str(rng.choice([m for m in MOVEMENTS if m != first.movement]))
        return replace(first, word=word, movement=movement, twin=first.word, differs_by=by)
    shapes = list(first.shapes)
    k = int(rng.integers(len(shapes)))
    neighbours = [s for s in NEIGHBOURS[shapes[k]] if s not in shapes[max(0, k - 1):k + 2]]
    shapes[k] = str(rng.choice(neighbours or [s for s in sorted(HANDSHAPES) if s not in shapes]))
    return replace(first, word=word, shapes=tuple(shapes), twin=first.word, differs_by=by)


def sign_templates(words: Sequence[str]) -> list[SignTemplate]:
    """The invented sign of every word.

    Consecutive words form confusable pairs (1st+2nd, 3rd+4th, ...): the first pair differs only by its
    movement, the second only by one handshape, and so on alternately, so neither shape nor motion alone
    tells every word apart. Depends only on the word list (order included), so datasets made with different
    seeds share the same signs; a different list gives different signs.
    """
    digest = hashlib.sha256("\x1f".join(words).encode("utf-8")).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    out: list[SignTemplate] = []
    seen: set[tuple[Any, ...]] = set()
    for i, word in enumerate(words):
        for _ in range(1000):
            if i % 2 == 1:
                tpl = _twin(out[i - 1], word, "movement" if (i // 2) % 2 == 0 else "handshape", rng)
            else:
                tpl = _random_template(word, rng)
            if tpl.key() not in seen:
                break
        else:  # pragma: no cover - 11 shapes x 12 movements x ... leave room for thousands of words
            raise SynthError(f"cannot invent a distinct sign for word {word!r}")
        seen.add(tpl.key())
        if i % 2 == 1:  # the pair's first word names its twin too
            out[i - 1] = replace(out[i - 1], twin=word, differs_by=tpl.differs_by)
        out.append(tpl)
    return out


# --------------------------------------------------------------------------------------------------------------
# Signers.

@dataclass(frozen=True)
class SignerStyle:
    """What makes one synthetic signer look different from the others (fixed over all their recordings)."""

    name: str
    left_handed: bool
    hand_length: float  # wrist to middle knuckle, in shoulder widths
    center: tuple[float, float]  # chest centre in the image, in image heights from the top-left corner
    zoom: float  # shoulder width in image heights: the camera distance
    speed: float  # duration multiplier (> 1 = slower)
    amplitude: float  # movement size multiplier
    location_bias: tuple[float, float]  # shoulder widths
    tilt: tuple[float, float, float]  # radians, how the signer habitually holds the hands
    shape_style: tuple[float, ...]  # added to every handshape
    dropout: float  # chance per frame that the detector starts losing a hand
    jitter: float  # landmark noise, in hand lengths

    def describe(self) -> dict[str, Any]:
        return {"left_handed": self.left_handed, "hand_length": round(self.hand_length, 4),
                "zoom": round(self.zoom, 4), "speed": round(self.speed, 4), "amplitude": round(self.amplitude, 4)}


def signer_name(index: int, count: int) -> str:
    return f"synth-{index + 1:0{max(2, len(str(count)))}d}"


def source_id(signer: str, word: str, take: int) -> str:
    """Each synthetic recording is its own source video, e.g. ``synth-03-수학-02`` (takes count from 1)."""
    return f"{signer}-{word}-{take + 1:02d}"


def make_signer(index: int, count: int, seed: int) -> SignerStyle:
    """Signer ``index`` of ``count``; every fourth one (synth-03, synth-07, ...) is left-handed."""
    rng = np.random.default_rng([seed, 1, index])
    style = np.concatenate([rng.normal(0.0, 0.13, 8), rng.normal(0.0, 0.2, 1), rng.normal(0.0, 0.13, 3)])
    return SignerStyle(
        name=signer_name(index, count),
        left_handed=index % 4 == 2,
        hand_length=float(rng.uniform(0.22, 0.30)),
        center=(float(ASPECT / 2 + rng.uniform(-0.25, 0.25)), float(rng.uniform(0.45, 0.62))),
        zoom=float(rng.uniform(0.26, 0.42)),
        speed=float(rng.uniform(0.75, 1.3)),
        amplitude=float(rng.uniform(0.7, 1.3)),
        location_bias=(float(rng.normal(0.0, 0.07)), float(rng.normal(0.0, 0.07))),
        tilt=tuple(float(a) for a in rng.normal(0.0, np.radians(14.0), 3)),
        shape_style=tuple(float(v) for v in style),
        dropout=float(rng.uniform(0.004, 0.03)),
        jitter=float(rng.uniform(0.01, 0.035)),
    )

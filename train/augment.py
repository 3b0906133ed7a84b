"""Training-time augmentation of RAW landmarks, one fresh variant per sample per epoch.

Why raw landmarks and not features: the feature spec (edge_runtime/spec.py) is
invariant to shifting or scaling a whole recording and resamples every sign to
T frames, so the seed project's four augmentations would do nothing if copied
literally. Each one is therefore redefined as the real-world variation it
stands for, measured in units of the hand's own size so that it means the same
in image and in shoulder-normalised coordinates:

- ``speed``  — the seed's time scaling. A uniform speed change is undone by the
  resampling to T, so this is a smooth monotonic time WARP (the middle of the
  sign faster or slower than its ends, |a| <= ``warp``) plus trimming up to
  ``trim`` of the frames at the start and end (the sign caught a little late
  or cut a little early).
- ``jitter`` — Gaussian noise on every point of every present hand, sigma =
  ``jitter`` x that frame's hand size (detector noise).
- ``shift``  — each hand's whole path moved by its own offset plus a linear
  drift over the sign (up to ``shift`` hand sizes): where one hand sits
  relative to the other and to its own start. Hand shapes are untouched.
- ``scale``  — the motion amplitude (the wrist path about its mean) scaled by
  1 ± ``motion_scale`` (bigger or smaller signing), and each hand's shape
  stretched anisotropically about its wrist by 1 ± ``shape_stretch`` in x and
  y (hand proportions, camera angle). Finger joint angles change with it.
- ``rotate`` — each hand's shape rotated in the image plane about its wrist by
  up to ``rotate_deg`` (wrist roll, camera tilt); 3-D joint angles are kept.

One of these is applied per variant, in rotation (sample i in epoch e gets
``ops[(i + e) % len(ops)]``), or none with probability ``keep_original``.
Independently of the rotation, ``mirror`` (probability) swaps the hands and
mirrors x (a left-handed signer), and ``dropout`` (probability) hides a hand
in a few random frames (detector misses), up to ``dropout_frames`` of them.

Only training recordings ever reach this module: the split comes first and
validation/test features are computed straight from the raw recordings
(``train.fit``). It works on :class:`edge_runtime.hands.HandSequence`, the type
recordings and live segments give the feature spec. Numpy only: no TensorFlow
needed to inspect or test it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Callable

import numpy as np

from edge_runtime.hands import LEFT, RIGHT, HandSequence, from_square, hand_size, mirror

OPS = ("speed", "jitter", "shift", "scale", "rotate")


@dataclass(frozen=True)
class AugmentConfig:
    """Small, realistic ranges; see the module docstring for what each one means."""

    ops: tuple[str, ...] = OPS
    keep_original: float = 0.2
    mirror: float = 0.25
    dropout: float = 0.3
    dropout_frames: float = 0.1
    warp: float = 0.3
    trim: float = 0.08
    jitter: float = 0.03
    shift: float = 0.4
    motion_scale: float = 0.15
    shape_stretch: float = 0.08
    rotate_deg: float = 12.0

    def __post_init__(self) -> None:
        unknown = [op for op in self.ops if op not in OPS]
        if unknown:
            raise ValueError(f"unknown augmentation(s) {', '.join(unknown)} (known: {', '.join(OPS)})")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["ops"] = list(self.ops)
        return data


NO_AUGMENT = AugmentConfig(ops=(), keep_original=1.0, mirror=0.0, dropout=0.0)


def _sizes(raw: HandSequence) -> np.ndarray:
    """Hand size per frame and hand [N, 2] in aspect-corrected units, the fallback where a hand is missing."""
    sizes = hand_size(raw.square())
    good = raw.present & (sizes > 1e-6)
    fallback = float(np.median(sizes[good])) if good.any() else 0.1
    return np.where(good, sizes, fallback)


def _with(raw: HandSequence, landmarks: np.ndarray, present: np.ndarray | None = None) -> HandSequence:
    pr = raw.present if present is None else present
    lm = landmarks.astype(np.float32)
    lm[~pr] = 0.0
    return replace(raw, landmarks=lm, present=pr.copy())


def sample_frames(raw: HandSequence, times: np.ndarray) -> HandSequence:
    """Raw landmarks at fractional frame times: linear between two frames where the hand is in both.

    Elsewhere the nearer frame is taken whole, so a hand never appears from an
    interpolation with an absent (zero) frame.
    """
    n = raw.landmarks.shape[0]
    times = np.clip(np.asarray(times, dtype=np.float64), 0.0, n - 1)
    lo = np.floor(times).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    w = (times - lo)[:, None, None, None]
    lm = (1.0 - w) * raw.landmarks[lo] + w * raw.landmarks[hi]
    nearest = np.where(w[:, 0, 0, 0] < 0.5, lo, hi)
    both = raw.present[lo] & raw.present[hi]
    take = ~both
    lm[take] = raw.landmarks[nearest][take]
    present = np.where(both, True, raw.present[nearest])
    return _with(raw, lm, present)


def speed(raw: HandSequence, rng: np.random.Generator, cfg: AugmentConfig) -> HandSequence:
    """Time warp + trim; frame count kept (the spec resamples to T anyway)."""
    n = raw.landmarks.shape[0]
    if n < 3:
        return raw
    start = rng.uniform(0.0, cfg.trim) * (n - 1)
    end = (n - 1) - rng.uniform(0.0, cfg.trim) * (n - 1)
    a = rng.uniform(-cfg.warp, cfg.warp)
    if abs(a) < cfg.warp / 4:  # a visible warp, never a near no-op
        a = np.copysign(cfg.warp / 4, a if a != 0 else 1.0)
    u = np.linspace(0.0, 1.0, n)
    warped = u + a * np.sin(np.pi * u) / np.pi  # derivative 1 + a cos(pi u) > 0 for |a| < 1: monotonic
    return sample_frames(raw, start + warped * (end - start))


def jitter(raw: HandSequence, rng: np.random.Generator, cfg: AugmentConfig) -> HandSequence:
    """Gaussian noise per point, sigma = cfg.jitter hand sizes (square units)."""
    pts = raw.square()
    sigma = cfg.jitter * _sizes(raw)[:, :, None, None]
    pts = pts + rng.normal(size=pts.shape) * sigma
    return _with(raw, from_square(pts, raw.aspect))


def shift(raw: HandSequence, rng: np.random.Generator, cfg: AugmentConfig) -> HandSequence:
    """Each hand translated rigidly: its own constant offset plus a linear drift over the sign."""
    pts = raw.square()
    n = pts.shape[0]
    unit = float(np.median(_sizes(raw)))
    t = np.linspace(-0.5, 0.5, n)[:, None]
    for hand in (LEFT, RIGHT):
        offset = rng.uniform(-cfg.shift, cfg.shift, size=2) * unit
        drift = rng.uniform(-cfg.shift, cfg.shift, size=2) * unit
        pts[:, hand, :, :2] += (offset + t * drift)[:, None, :]
    return _with(raw, from_square(pts, raw.aspect))


def _about_wrist(pts: np.ndarray, hand: int, matrix: np.ndarray) -> None:
    """Apply a 2x2 matrix to one hand's x, y about its wrist, in place."""
    wrist = pts[:, hand, :1, :2]
    rel = pts[:, hand, :, :2] - wrist
    pts[:, hand, :, :2] = wrist + rel @ matrix.T


def scale(raw: HandSequence, rng: np.random.Generator, cfg: AugmentConfig) -> HandSequence:
    """Motion amplitude about the mean wrist position, and an anisotropic stretch of each hand's shape."""
    pts = raw.square()
    wrists = pts[:, :, 0, :2]
    if raw.present.any():
        centre = wrists[raw.present].mean(axis=0)
        factor = 1.0 + rng.choice([-1.0, 1.0]) * rng.uniform(cfg.motion_scale / 3, cfg.motion_scale)
        moved = centre + (wrists - centre) * factor
        pts[:, :, :, :2] += (moved - wrists)[:, :, None, :]
    for hand in (LEFT, RIGHT):
        sx, sy = 1.0 + rng.uniform(-cfg.shape_stretch, cfg.shape_stretch, size=2)
        _about_wrist(pts, hand, np.diag([sx, sy]))
    return _with(raw, from_square(pts, raw.aspect))


def rotate(raw: HandSequence, rng: np.random.Generator, cfg: AugmentConfig) -> HandSequence:
    """Each hand's shape (x, y) rotated about its wrist; z is kept, so 3-D joint angles are too."""
    pts = raw.square()
    for hand in (LEFT, RIGHT):
        angle = np.deg2rad(rng.uniform(-cfg.rotate_deg, cfg.rotate_deg))
        c, s = np.cos(angle), np.sin(angle)
        _about_wrist(pts, hand, np.array([[c, -s], [s, c]]))
    return _with(raw, from_square(pts, raw.aspect))


def drop_frames(raw: HandSequence, rng: np.random.Generator, cfg: AugmentConfig) -> HandSequence:
    """Hide one hand in a few random frames (at most cfg.dropout_frames of them), as a detector miss would."""
    n = raw.landmarks.shape[0]
    candidates = [h for h in (LEFT, RIGHT) if raw.present[:, h].sum() >= 3]
    if not candidates:
        return raw
    hand = int(rng.choice(candidates))
    frames = np.flatnonzero(raw.present[:, hand])
    k = int(rng.integers(1, max(2, int(cfg.dropout_frames * n) + 1)))
    k = min(k, len(frames) - 1)  # never hide the hand in every frame
    present = raw.present.copy()
    present[rng.choice(frames, size=k, replace=False), hand] = False
    return _with(raw, raw.landmarks, present)


AUGMENTATIONS: dict[str, Callable[[HandSequence, np.random.Generator, AugmentConfig], HandSequence]] = {
    "speed": speed, "jitter": jitter, "shift": shift, "scale": scale, "rotate": rotate,
}


@dataclass
class Augmenter:
    """Makes the variant of sample ``index`` for ``epoch``: reproducible from (seed, epoch, index)."""

    config: AugmentConfig = field(default_factory=AugmentConfig)
    seed: int = 0

    def op_for(self, index: int, epoch: int) -> str | None:
        ops = self.config.ops
        return ops[(index + epoch) % len(ops)] if ops else None

    def __call__(self, raw: HandSequence, index: int, epoch: int) -> tuple[HandSequence, list[str]]:
        """The variant and the names of what was applied (empty = the original)."""
        cfg = self.config
        rng = np.random.default_rng([self.seed, epoch, index])
        applied: list[str] = []
        op = self.op_for(index, epoch)
        if op is not None and rng.random() >= cfg.keep_original:
            raw = AUGMENTATIONS[op](raw, rng, cfg)
            applied.append(op)
        if rng.random() < cfg.mirror:
            raw = mirror(raw)
            applied.append("mirror")
        if rng.random() < cfg.dropout:
            raw = drop_frames(raw, rng, cfg)
            applied.append("dropout")
        return raw, applied

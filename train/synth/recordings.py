"""One synthetic recording: a signer performs a word's sign in front of a camera with a flawed detector.

Why a module of its own: this is where time enters (rest, raise, sign,
lower, rest), where the two hands are placed, mirrored for left-handed
signers, projected into the image and dropped by the "detector"; and where a
config becomes the stream of recordings that a dataset holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from edge_runtime.dataset import Recording
from train.synth.config import ASPECT, SynthConfig
from train.synth.hand import (
    BASE_LOCATION,
    HANDSHAPES,
    LOCATIONS,
    ORIENTATIONS,
    REST_FRAME,
    REST_LOCATION,
    REST_SHAPE,
    SHAPE_HIGH,
    SHAPE_LOW,
    SHAPE_SIZE,
    axis_rotation,
    hand_points,
    mirror,
    slerp,
    smooth,
    tilt,
)
from train.synth.signs import SignerStyle, SignTemplate, make_signer, movement_path, sign_templates, source_id

FPS = 30.0
GENERATOR = "signedge sign-synth v1"


# --------------------------------------------------------------------------------------------------------------
# One recording.

def _keyframes(u: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each phase u: the two keyframes around it and the blend weight (holds, then a quick change)."""
    if count == 1:
        zero = np.zeros(len(u), int)
        return zero, zero, np.zeros(len(u))
    pos = np.clip(u, 0.0, 1.0) * (count - 1)
    lo = np.minimum(np.floor(pos).astype(int), count - 2)
    w = smooth((pos - lo - 0.3) / 0.4)
    return lo, lo + 1, w


@dataclass
class _Pose:
    """A hand over time, in the body frame, as a right hand: shapes [n, 12], rotations [n, 3, 3], wrists [n, 3]."""

    shape: np.ndarray
    rot: np.ndarray
    wrist: np.ndarray


def _blend(a: _Pose, b: _Pose, w: np.ndarray) -> _Pose:
    return _Pose(shape=a.shape + (b.shape - a.shape) * w[:, None], rot=slerp(a.rot, b.rot, w),
                 wrist=a.wrist + (b.wrist - a.wrist) * w[:, None])


def _const(shape: np.ndarray, rot: np.ndarray, wrist: np.ndarray, n: int) -> _Pose:
    return _Pose(np.broadcast_to(shape, (n, SHAPE_SIZE)).copy(), np.broadcast_to(rot, (n, 3, 3)).copy(),
                 np.broadcast_to(wrist, (n, 3)).copy())


def _timeline(tpl: SignTemplate, signer: SignerStyle, cfg: SynthConfig, rng: np.random.Generator) -> np.ndarray:
    """Frame counts of (rest, raise, sign, lower, rest), summing to a length within the config's bounds."""
    segments = np.array([rng.uniform(1, 12), rng.uniform(6, 11),
                         tpl.duration * signer.speed * rng.uniform(0.85, 1.15),
                         rng.uniform(6, 11), rng.uniform(1, 12)])
    total = int(np.clip(round(segments.sum()), cfg.frames_min, cfg.frames_max))
    return segments * total / segments.sum()


def _phases(bounds: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: which segment of the timeline it falls in and how far through it (0..1)."""
    t = np.arange(n) + 0.5
    edges = np.concatenate([[0.0], np.cumsum(bounds)])
    seg = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, len(bounds) - 1)
    frac = (t - edges[seg]) / np.maximum(bounds[seg], 1e-9)
    return seg, np.clip(frac, 0.0, 1.0)


def _sign_pose(tpl: SignTemplate, signer: SignerStyle, u: np.ndarray, shape_noise: np.ndarray,
               orient_noise: np.ndarray, location: np.ndarray, amplitude: float) -> _Pose:
    """The dominant (right) hand during the sign itself, at phases u."""
    shapes = np.array([HANDSHAPES[s] for s in tpl.shapes]) + np.asarray(signer.shape_style) + shape_noise
    shapes = np.clip(shapes, SHAPE_LOW, SHAPE_HIGH)
    lo, hi, w = _keyframes(u, len(shapes))
    shape = shapes[lo] + (shapes[hi] - shapes[lo]) * w[:, None]
    path, roll = movement_path(tpl.movement, u)
    base_rot = tilt(np.asarray(signer.tilt) + orient_noise) @ ORIENTATIONS[tpl.orientation]
    rot = np.einsum("ij,njk->nik", base_rot, axis_rotation(1, roll))
    wrist = location + amplitude * path
    if tpl.hands == "mirror":  # the two hands may meet at the midline but never pass through each other
        reach = max(0.0, float(rot[0, 0, 1])) * 1.75 * signer.hand_length  # fingertips toward the midline
        limit = -(0.05 + reach)
        wrist[:, 0] -= max(0.0, float(wrist[:, 0].max()) - limit)  # start further out: keep the whole path
        wrist[:, 0] = _keep_below(wrist[:, 0], limit)
    return _Pose(shape, rot, wrist)


def _keep_below(x: np.ndarray, limit: float, softness: float = 0.04) -> np.ndarray:
    """``x`` where it is well below ``limit``, easing into the limit instead of crossing it (a soft minimum)."""
    return limit - softness * np.logaddexp(0.0, (limit - x) / softness)


def _render(tpl: SignTemplate, signer: SignerStyle, cfg: SynthConfig, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """landmarks [n, 2, 21, 3], present [n, 2], score [n, 2] of one performance."""
    segments = _timeline(tpl, signer, cfg, rng)
    n = int(round(segments.sum()))
    seg, frac = _phases(segments, n)

    # The sign's own phase, with a gentle per-recording time warp (faster start or faster end).
    warp = rng.uniform(-0.25, 0.25)
    u_sign = np.where(seg == 2, frac + warp * np.sin(np.pi * frac) * (1 - frac), 0.0)
    u_sign = np.where(seg > 2, 1.0, np.clip(u_sign, 0.0, 1.0))

    shape_noise = rng.normal(0.0, 0.03, SHAPE_SIZE)
    orient_noise = rng.normal(0.0, np.radians(4.0), 3)
    loc = LOCATIONS[tpl.location]
    location = np.array([loc[0] + signer.location_bias[0] + rng.normal(0, 0.04),
                         loc[1] + signer.location_bias[1] + rng.normal(0, 0.04), 0.3])
    amplitude = tpl.amplitude * signer.amplitude * rng.uniform(0.88, 1.12)
    sign = _sign_pose(tpl, signer, u_sign, shape_noise, orient_noise, location, amplitude)

    rest_wrist = REST_LOCATION + rng.normal(0.0, 0.04, 3)
    rest = _const(np.clip(REST_SHAPE + np.asarray(signer.shape_style), SHAPE_LOW, SHAPE_HIGH),
                  tilt(np.asarray(signer.tilt)) @ REST_FRAME, rest_wrist, n)
    sway = 0.015 * np.sin(np.arange(n) / 7.0 + rng.uniform(0, 6.3))
    rest.wrist[:, 1] += sway
    dominant = _moving_hand(seg, frac, rest, sign)

    if tpl.hands == "mirror":
        other = dominant  # the other hand does the same, mirror image (mirrored below)
    elif tpl.hands == "base":
        base_shape = np.clip(HANDSHAPES[tpl.base_shape] + np.asarray(signer.shape_style), SHAPE_LOW, SHAPE_HIGH)
        base = _const(base_shape, tilt(np.asarray(signer.tilt)) @ ORIENTATIONS[tpl.base_orientation],
                      BASE_LOCATION + np.array([0.0, -0.4 * tpl.amplitude, 0.0]), n)
        other = _moving_hand(seg, frac, rest, base)
    else:  # the other hand stays down, swaying a little on its own
        other = _const(rest.shape[0], rest.rot[0], rest_wrist + np.array([0.05, 0.03, 0.0]), n)
        other.wrist[:, 1] += sway[::-1]

    length = signer.hand_length
    right = hand_points(dominant.shape, dominant.rot, dominant.wrist, length)
    left = mirror(hand_points(other.shape, other.rot, other.wrist, length))
    if signer.left_handed:  # the whole sign, mirrored: the dominant hand is now the signer's left
        right, left = mirror(left), mirror(right)
    body = np.stack([left, right], axis=1)  # slot 0 = the signer's left hand, slot 1 = right
    return _camera(body, signer, rng)


def _moving_hand(seg: np.ndarray, frac: np.ndarray, rest: _Pose, target: _Pose) -> _Pose:
    """Rest, raise into the target's pose, follow it, lower back, rest (per frame by timeline segment).

    ``target`` holds its first pose before the sign and its last pose after it, so the hand rises into
    exactly where the sign starts and leaves from where it ends.
    """
    w = np.zeros(len(seg))
    w[seg == 1] = smooth(frac[seg == 1])
    w[seg == 2] = 1.0
    w[seg == 3] = 1.0 - smooth(frac[seg == 3])
    return _blend(rest, target, w)


def _camera(body: np.ndarray, signer: SignerStyle, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Body-frame points [n, 2, 21, 3] -> MediaPipe-normalised landmarks, presence and detector scores."""
    n = body.shape[0]
    cx, cy = signer.center
    k = signer.zoom
    px = cx + k * body[..., 0]  # image heights
    py = cy - k * body[..., 1]
    pz = -k * (body[..., 2] - body[..., :1, 2])  # relative to the wrist, smaller = closer to the camera
    sigma = signer.jitter * signer.hand_length * k
    px = px + rng.normal(0.0, sigma, px.shape)
    py = py + rng.normal(0.0, sigma, py.shape)
    pz = pz + rng.normal(0.0, sigma, pz.shape)
    landmarks = np.stack([px / ASPECT, py, pz / ASPECT], axis=-1).astype(np.float32)

    inside = (landmarks[..., 0] >= 0) & (landmarks[..., 0] <= 1) & (landmarks[..., 1] >= 0) & (landmarks[..., 1] <= 1)
    present = inside.mean(axis=-1) >= 0.6
    for hand in range(2):  # the detector loses a hand for runs of frames
        i = 0
        while i < n:
            if rng.random() < signer.dropout:
                run_len = int(rng.integers(1, 7))
                present[i:i + run_len, hand] = False
                i += run_len
            else:
                i += 1
    score = np.where(present, rng.uniform(0.8, 0.99, present.shape), 0.0).astype(np.float32)
    landmarks[~present] = 0.0
    return landmarks, present, score


def _recording(tpl: SignTemplate, signer: SignerStyle, take: int, cfg: SynthConfig, word_index: int,
               signer_index: int) -> Recording:
    rng = np.random.default_rng([cfg.seed, 2, word_index, signer_index, take])
    landmarks, present, score = _render(tpl, signer, cfg, rng)
    return Recording(
        landmarks=landmarks, present=present, score=score, label=tpl.word, fps=FPS,
        source_id=source_id(signer.name, tpl.word, take), signer=signer.name, aspect=ASPECT,
        extra={"generator": GENERATOR, "seed": cfg.seed, "sign": tpl.describe(), "signer_style": signer.describe()},
    )


def plan(config: SynthConfig) -> list[tuple[int, int, int]]:
    """(word index, signer index, take) of every recording: each word's recordings dealt round the signers."""
    out = []
    for w in range(len(config.words)):
        takes = [0] * config.signers
        for r in range(config.per_word):
            s = (r + w) % config.signers
            out.append((w, s, takes[s]))
            takes[s] += 1
    return out


def iter_recordings(config: SynthConfig) -> Iterator[Recording]:
    """Yield the recordings one at a time (words in order); the same config always yields the same arrays."""
    config.validate()
    templates = sign_templates(config.words)
    signers = [make_signer(i, config.signers, config.seed) for i in range(config.signers)]
    for w, s, take in plan(config):
        yield _recording(templates[w], signers[s], take, config, w, s)


def synthesize(config: SynthConfig = SynthConfig()) -> list[Recording]:
    """All recordings of ``config`` in memory: for tests and demos that need a small dataset quickly."""
    return list(iter_recordings(config))

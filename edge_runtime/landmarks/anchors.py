"""SSD anchors of the palm detector, computed once from the options MediaPipe's graph gives them.

The palm model predicts 2016 boxes as offsets from fixed anchor centres; the
anchors are not stored in the ``.tflite`` file, so they must be rebuilt from
the ``SsdAnchorsCalculator`` options of MediaPipe's palm-detection graph
(``mediapipe/modules/palm_detection/palm_detection_cpu.pbtxt``). Getting one
number wrong here shifts every detected palm, so the defaults below are those
options verbatim and the unit tests pin the count and the first/last anchors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AnchorOptions:
    """The subset of ``SsdAnchorsCalculatorOptions`` the palm graph sets (defaults = palm detection)."""

    input_width: int = 192
    input_height: int = 192
    num_layers: int = 4
    min_scale: float = 0.1484375
    max_scale: float = 0.75
    strides: tuple[int, ...] = (8, 16, 16, 16)
    aspect_ratios: tuple[float, ...] = (1.0,)
    anchor_offset_x: float = 0.5
    anchor_offset_y: float = 0.5
    # The proto's default: one extra anchor per layer at the interpolated scale.
    interpolated_scale_aspect_ratio: float = 1.0
    fixed_anchor_size: bool = True


def _scale(options: AnchorOptions, index: int) -> float:
    n = len(options.strides)
    if n == 1:
        return (options.min_scale + options.max_scale) * 0.5
    return options.min_scale + (options.max_scale - options.min_scale) * index / (n - 1.0)


def ssd_anchors(options: AnchorOptions = AnchorOptions()) -> np.ndarray:
    """Anchors as float32 ``[N, 4]`` rows of (x_center, y_center, width, height), normalised to 0..1.

    Consecutive layers with the same stride share one grid: their anchors are
    interleaved per cell, in the order MediaPipe emits them (the model's
    output rows follow that order).
    """
    if len(options.strides) != options.num_layers:
        raise ValueError(f"{options.num_layers} layers but {len(options.strides)} strides")
    blocks = []
    layer = 0
    while layer < options.num_layers:
        sizes: list[tuple[float, float]] = []  # (width, height) of each anchor of one grid cell
        last = layer
        while last < options.num_layers and options.strides[last] == options.strides[layer]:
            scale = _scale(options, last)
            for ratio in options.aspect_ratios:
                sizes.append((scale * math.sqrt(ratio), scale / math.sqrt(ratio)))
            if options.interpolated_scale_aspect_ratio > 0.0:
                nxt = 1.0 if last == options.num_layers - 1 else _scale(options, last + 1)
                inter = math.sqrt(scale * nxt)
                ratio = options.interpolated_scale_aspect_ratio
                sizes.append((inter * math.sqrt(ratio), inter / math.sqrt(ratio)))
            last += 1
        stride = options.strides[layer]
        rows = math.ceil(options.input_height / stride)
        cols = math.ceil(options.input_width / stride)
        ys, xs = np.meshgrid((np.arange(rows) + options.anchor_offset_y) / rows,
                             (np.arange(cols) + options.anchor_offset_x) / cols, indexing="ij")
        per_cell = len(sizes)
        block = np.empty((rows, cols, per_cell, 4), np.float32)
        block[..., 0] = xs[..., None]
        block[..., 1] = ys[..., None]
        if options.fixed_anchor_size:
            block[..., 2:] = 1.0
        else:
            block[..., 2:] = np.asarray(sizes, np.float32)
        blocks.append(block.reshape(-1, 4))
        layer = last
    return np.concatenate(blocks)

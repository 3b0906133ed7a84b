"""Which numeric precision a hand bundle's two models run at, and where each precision's bundle lives.

``sign-models`` writes the float bundle (``hand_landmarker.task``: float16
weights, float32 compute) and, on request, two derived ones next to it:

- ``f16``: the same weights, marked for float16 *compute*
  (``reduced_precision_support = fp16accfp16``); XNNPACK then computes in
  float16 on CPUs with ARMv8.2 FP16 arithmetic (Raspberry Pi 5) and in float32
  elsewhere (Pi 4, x86);
- ``int8``: both models quantized to int8 (weights and activations),
  calibrated on real frames, with float32 inputs and outputs.

A derived bundle is named after its source: ``hand_landmarker_int8.task``,
``hand_landmarker_lite_f16.task``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

PRECISIONS = ("f32", "f16", "int8")
DEFAULT_PRECISION = "f32"


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r} (choose from {', '.join(PRECISIONS)})")
    return precision


def bundle_path(float_bundle: str | Path, precision: str) -> Path:
    """The bundle of ``precision`` derived from ``float_bundle`` (the float bundle itself for ``f32``)."""
    path = Path(float_bundle)
    if check_precision(precision) == "f32":
        return path
    return path.with_name(f"{path.stem}_{precision}{path.suffix}")


def existing_bundles(float_bundle: str | Path) -> list[tuple[str, Path]]:
    """(precision, path) of ``float_bundle`` and of every derived bundle made next to it, in PRECISIONS order."""
    found = [(precision, bundle_path(float_bundle, precision)) for precision in PRECISIONS]
    return [(precision, path) for precision, path in found if path.is_file()]


def precision_bundle(float_bundle: str | Path, precision: str, backend: str = "litert") -> Path:
    """The bundle a command runs for ``--landmark-precision``: one clear error when it is missing or unusable."""
    from edge_runtime.errors import ModelError

    path = bundle_path(float_bundle, precision)
    if precision == DEFAULT_PRECISION:
        return path
    if backend != "litert":
        raise ModelError(f"--landmark-precision {precision} runs on the litert backend (MediaPipe Tasks runs the "
                         f"float bundle it ships), not {backend}")
    if not path.is_file():
        raise ModelError(f"{path}: no {precision} hand bundle next to {Path(float_bundle).name}; make it with: "
                         f"sign-models --precision {precision} --from-file {float_bundle}"
                         + (" --calibration VIDEOS" if precision == "int8" else ""))
    return path


def add_precision_argument(p: argparse._ActionsContainer) -> None:
    """``--landmark-precision`` for every command that runs the hand models (an argparse parser or group)."""
    p.add_argument("--landmark-precision", choices=PRECISIONS, default=DEFAULT_PRECISION,
                   help="run the hand models at this precision: f32 (the float bundle), f16 (float16 compute "
                        "where the CPU has it: Pi 5) or int8 (quantized; see sign-parity --precision for what it "
                        "keeps); the derived bundle sits next to --hand-model, made by sign-models --precision")

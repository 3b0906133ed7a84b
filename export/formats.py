"""The one table of export formats: it drives argument checking, ``--help``, verification and benchmark rows.

Adding a format is one row here (plus a branch in ``export.convert`` if it
needs a new kind of quantisation). A row that says ``needs_calibration`` gets
training recordings (chosen by ``export.calibration``, ``DEFAULT_CALIBRATION``
of them unless asked otherwise) wherever the model is exported. Nothing here
imports TensorFlow, so the CLI can check its arguments and print ``--help``
instantly.

The gates say when an exported file may ship. They compare the file, run by the
interpreter the device uses, against the trained Keras model on the run's
held-out test split:

- ``f32`` and ``onnx`` do the same float32 arithmetic as Keras, only in another
  order, so probabilities differ by ~1e-7: a difference above 1e-4 or any flipped
  prediction beyond one near-tie in a hundred means the conversion is wrong.
- ``f16`` rounds weights to 11 significant bits (relative error <= 2^-11) while
  the math stays float32: probabilities move by ~1e-3, so 0.01 is the limit and
  at most 2 in 100 predictions may flip (near-ties only).
- ``dynamic`` (int8 weights, activations quantised on the fly) and ``int8``
  (everything int8, calibrated) move probabilities by ~0.01 (the team measured
  that on a BiLSTM); only sequences whose two best classes are that close can
  flip, so at least 95% must agree with Keras. Below that the quantisation (for
  int8: too few or unrepresentative calibration recordings) is broken, not unlucky.

Every ``.tflite`` must also hold builtin ops only (``export.ops``): a Flex,
custom or resource-variable op fails its gate whatever the numbers say.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from export.errors import ExportError

DEFAULT_CALIBRATION = 200  # training recordings that calibrate a format that needs_calibration (all if fewer)


@dataclass(frozen=True)
class Format:
    """One exported flavour of the model: how it is made, where it goes, and what it must match."""

    name: str  # CLI name, the description's "format", row name in the report and the benchmarks
    filename: str  # file written in the output folder (its suffix picks the runtime)
    converter: str  # "tflite" (TFLiteConverter from a SavedModel) or "onnx" (tf2onnx)
    quantisation: str  # none | float16 | dynamic-range | full-integer
    min_agreement: float  # gate: share of held-out inputs whose argmax equals the Keras model's
    max_prob_diff: float | None  # gate on max |p_file - p_keras|; None = reported, not gated
    summary: str  # one line for --help
    needs_calibration: bool = False  # the converter sets activation ranges from training recordings

    @property
    def suffix(self) -> str:
        return Path(self.filename).suffix

    @property
    def runtime(self) -> str:
        """The interpreter that verifies the file, the same one the device uses."""
        return "onnxruntime" if self.converter == "onnx" else "litert"

    def gate_text(self, min_agreement: float | None = None) -> str:
        agreement = self.min_agreement if min_agreement is None else min_agreement
        text = f"agreement >= {agreement:.0%}"
        if self.max_prob_diff is not None:
            text += f", max |dp| <= {self.max_prob_diff:g}"
        if self.converter == "tflite":
            text += ", builtin ops only"
        return text


FORMATS: tuple[Format, ...] = (
    Format("f32", "model_f32.tflite", "tflite", "none", 0.99, 1e-4,
           "float32 TFLite: the reference, the same numbers as Keras"),
    Format("f16", "model_f16.tflite", "tflite", "float16", 0.98, 1e-2,
           "float16 weights, float32 math: half the weight bytes"),
    Format("dynamic", "model_dynamic.tflite", "tflite", "dynamic-range", 0.95, None,
           "int8 weights, activations quantised at run time: no calibration needed"),
    Format("int8", "model_int8.tflite", "tflite", "full-integer", 0.95, None,
           "full-integer int8, calibrated on training recordings (--calibration); float I/O unless --int8-io",
           needs_calibration=True),
    Format("onnx", "model.onnx", "onnx", "none", 0.99, 1e-4,
           "float32 ONNX through tf2onnx, for onnxruntime"),
)
BY_NAME: dict[str, Format] = {f.name: f for f in FORMATS}
DEFAULT_FORMATS = ",".join(f.name for f in FORMATS)


def parse_formats(text: str) -> list[Format]:
    """``"f32,int8"`` -> the table rows, in table order; an unknown or empty name is a one-line error."""
    names = [n.strip() for n in str(text).split(",")]
    if not any(names):
        raise ExportError(f"no format given (choose from {', '.join(BY_NAME)})")
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise ExportError(f"unknown format {unknown[0]!r} (choose from {', '.join(BY_NAME)})")
    wanted = set(names)
    return [f for f in FORMATS if f.name in wanted]


def help_table() -> str:
    """The formats as plain text for ``--help``."""
    width = max(len(f.name) for f in FORMATS)
    lines = []
    for f in FORMATS:
        lines.append(f"  {f.name:<{width}}  {f.filename:<20} {f.summary}")
        lines.append(f"  {'':<{width}}  {'':<20} gate: {f.gate_text()}")
    return "\n".join(lines)

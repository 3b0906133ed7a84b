"""``export-tflite``: a trained run folder -> verified, self-describing .tflite / .onnx files and a report."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from edge_runtime.cli.common import parser, print_table, run, setup_logging
from export.formats import DEFAULT_CALIBRATION, DEFAULT_FORMATS, help_table
from export.pipeline import REPORT_FILE, ExportConfig, ExportReport

PROG = "export-tflite"
DESCRIPTION = f"""\
Convert a trained run (model.keras + labels.json + model_card.json, written by sign-train) to TFLite and
ONNX, then verify every file with the interpreter the device uses (ai-edge-litert / onnxruntime, 1 thread)
on the run's held-out test split: agreement with the Keras model, max probability difference, accuracy,
size, latency and op list. Writes one file per format, carrying its own description (labels, feature spec,
provenance: the device needs nothing else), and {REPORT_FILE}. Exit status: 0 all files pass, 1 a file
failed to convert or failed its gate, 2 a bad input (no model, not a softmax over the labels, unknown format, unwritable folder).

formats (--formats):
{help_table()}

Recurrent layers are exported unrolled at batch 1 (builtin ops only, float32 identical to Keras);
int8 is calibrated on TRAINING recordings only (never validation or test).

example:
  export-tflite runs/demo
  export-tflite runs/demo --formats f32,int8 --int8-io --calibration 100 --out dist/
"""


def build_parser():
    p = parser(PROG, DESCRIPTION)
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="run folder written by sign-train")
    p.add_argument("--formats", default=DEFAULT_FORMATS, help="comma-separated formats to write (see above)")
    p.add_argument("--calibration", type=int, default=DEFAULT_CALIBRATION, metavar="N",
                   help="training recordings used to calibrate int8 (all of them if fewer)")
    p.add_argument("--int8-io", action="store_true", default=argparse.SUPPRESS,
                   help="int8 input and output tensors for the int8 model (the file gives scale and zero point); "
                        "default: float input and output")
    p.add_argument("--out", type=Path, default=argparse.SUPPRESS, metavar="DIR",
                   help="output folder (default: RUN_DIR/export)")
    p.add_argument("--threads", type=int, default=1, help="interpreter threads while verifying and timing")
    p.add_argument("--min-agreement", type=float, default=argparse.SUPPRESS, metavar="FRACTION",
                   help="override every format's agreement gate (default: the table's, see above)")
    p.add_argument("--dataset", type=Path, default=argparse.SUPPRESS, metavar="DIR",
                   help="dataset folder, if it moved since training (default: the model card's)")
    return p


def _fmt(value: float | None, spec: str, missing: str = "-") -> str:
    return missing if value is None or math.isnan(value) else format(value, spec)


def render(report: ExportReport) -> None:
    """Print the verification table."""
    header = ["format", "file", "size", "conv s", "agree", "max |dp|", "accuracy", "ms/seq", "ops", "gate"]
    rows = []
    for r in report.rows:
        ops = f"{sum(r.ops.values())} ({len(r.ops)} kinds)" if r.ops else "-"
        verdict = "pass" if r.passed else "FAIL: " + "; ".join(r.problems)
        rows.append([r.format, r.file or "-", f"{r.size_bytes / 1024:.0f} KB" if r.size_bytes else "-",
                     f"{r.convert_seconds:.1f}", _fmt(r.agreement, ".1%"), _fmt(r.max_abs_diff, ".1e"),
                     _fmt(r.accuracy, ".1%"), _fmt(r.ms_per_sequence, ".3f"), ops, verdict])
    title = (f"{report.run} -> {report.out}\nKeras accuracy {report.keras_accuracy:.1%}, every figure measured on "
             f"the {report.measured_on}")
    print_table(title, header, rows, styles=[None if r.passed else "red" for r in report.rows],
                left=("format", "file", "gate", "ops"))
    print(f"report: {Path(report.out) / REPORT_FILE}")
    if not report.passed:
        failed = ", ".join(r.format for r in report.rows if not r.passed)
        print(f"{PROG}: FAILED verification: {failed}", file=sys.stderr)


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    config = ExportConfig(
        run_dir=args.run_dir, formats=args.formats, calibration=args.calibration,
        int8_io=getattr(args, "int8_io", False), out=getattr(args, "out", None), threads=args.threads,
        min_agreement=getattr(args, "min_agreement", None), dataset=getattr(args, "dataset", None),
        progress=sys.stderr.isatty(), quiet_converter=args.verbose < 2)
    from export.pipeline import export_run

    report = export_run(config)
    render(report)
    return 0 if report.passed else 1


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(_main, argv, prog=PROG))


if __name__ == "__main__":
    main()

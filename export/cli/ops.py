"""``python -m export.cli.ops FILE...``: list the operators of .tflite files; exit 1 if one holds an op the device
cannot run (Flex, custom, resource variables)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from edge_runtime.cli.common import parser, run, setup_logging
from export.ops import forbidden_ops, op_counts, size_breakdown

PROG = "python -m export.cli.ops"


def _main(argv: Sequence[str] | None) -> int:
    p = parser(PROG, "List the operators of .tflite files, flag non-builtin ones, and say how many bytes are "
                     "constant tensors and how many the graph.\n\n"
                     "example: python -m export.cli.ops runs/demo/export/model_int8.tflite")
    p.add_argument("models", nargs="+", type=Path, help=".tflite files")
    args = p.parse_args(argv)
    setup_logging(args.verbose)
    status = 0
    for path in args.models:
        ops = op_counts(path)
        bad = forbidden_ops(ops)
        size = size_breakdown(path)
        print(f"{path}: {sum(ops.values())} ops, {len(ops)} kinds" + (f", NOT builtin: {', '.join(bad)}"
                                                                      if bad else ", builtin only"))
        print(f"  {size.file_bytes} bytes: {size.constant_bytes} of constant tensors (weights, biases), "
              f"{size.graph_bytes} of graph ({size.operators} operators, {size.tensors} tensor records with their "
              "shapes and quantisation, metadata)")
        for name, count in ops.items():
            print(f"  {name:<32} {count}")
        status |= 1 if bad else 0
    return status


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(_main, argv, prog=PROG))


if __name__ == "__main__":
    main()

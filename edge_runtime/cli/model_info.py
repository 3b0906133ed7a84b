"""``python -m edge_runtime.cli.model_info MODEL``: print what an exported model says about itself, as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Sequence

from edge_runtime.cli.common import parser, run, setup_logging
from edge_runtime.model_info import read_model_info

PROG = "python -m edge_runtime.cli.model_info"


def _main(argv: Sequence[str] | None) -> int:
    p = parser(PROG, "Print what an exported model says about itself: labels, feature spec, provenance and its "
                     "real input/output tensors.\n\nexample: python -m edge_runtime.cli.model_info model_int8.tflite")
    p.add_argument("model", type=Path, help=".tflite or .onnx file")
    args = p.parse_args(argv)
    setup_logging(args.verbose)
    print(json.dumps(read_model_info(args.model).to_dict(), ensure_ascii=False, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(_main, argv, prog=PROG))


if __name__ == "__main__":
    main()

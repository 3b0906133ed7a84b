"""``sign-import``: existing keypoint data into a dataset folder (flags -> ImportRequest -> ``import_dataset``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from edge_runtime.cli.common import parser as base_parser
from edge_runtime.cli.common import run, setup_logging
from edge_runtime.errors import DatasetError
from train.importers import COORD_FRAMES, KINDS, ImportConfig, ImportRequest, import_dataset

PROG = "sign-import"


def build_parser() -> argparse.ArgumentParser:
    p = base_parser(
        PROG,
        "Import existing keypoint data into a signedge dataset folder.\n\n"
        "examples:\n"
        "  sign-import mpdata ~/MP_Data data/alice --signer alice\n"
        "  sign-import npz ../shared/data/asl-mpdata/*.npz data/asl8\n"
        "  sign-import npz ../shared/data/ksl-aihub-keypoints/*.npz data/ksl --coord-frame shoulder\n"
        "  sign-import npz ../shared/data/mpdata-words/*.npz data/words    # variable-length recordings",
    )
    p.add_argument("kind", choices=KINDS, help="mpdata: MP_Data/<label>/<rec>/<frame>.npy folders; "
                   "npz: <person>.npz files, [N, T, 21, 3] hands or, with a lengths array, recordings of any "
                   "length concatenated")
    p.add_argument("inputs", nargs="+", type=Path, help="input folders (mpdata) or files (npz), then OUT_DIR")
    p.add_argument("--signer", default="", help="signer name (mpdata: one folder is one person; default: the "
                   "folder name; npz: default the file stem)")
    p.add_argument("--fps", type=float, default=ImportConfig.fps, help="frame rate of the recordings")
    p.add_argument("--aspect", type=float, default=ImportConfig.aspect,
                   help="camera width/height (normalised x and y are fractions of different lengths)")
    p.add_argument("--coord-frame", choices=COORD_FRAMES, default="auto",
                   help="image: MediaPipe-normalised image coordinates; shoulder: centred on the shoulders and "
                   "divided by shoulder width (the shared KSL set); auto: shoulder for files with sample_id")
    p.add_argument("--force", action="store_true", help="replace OUT_DIR if it exists")
    return p


def _main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    if len(args.inputs) < 2:
        raise DatasetError("give at least one input and the output folder")
    *inputs, out = args.inputs
    result = import_dataset(ImportRequest(args.kind, tuple(inputs), out, args.signer, args.fps, args.aspect,
                                          args.coord_frame, args.force))
    print(result.line())
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(_main, argv, prog=PROG))


if __name__ == "__main__":
    main()

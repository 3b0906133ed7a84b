"""``sign-extract``: a folder of sign videos → a signedge dataset of hand keypoints.

Each video becomes one recording (``recordings/<label>/<source_id>.npz``:
landmarks per frame in the project's hand slots) and one row of
``manifest.csv``; ``dataset.json`` records which landmark backend and which
model (sha256) saw the hands, so a model trained on the dataset can warn when
the device runs a different one.

Where labels come from (``--label-from``):

- ``folder`` (default): ``VIDEO_DIR/<label>/<clip>.mp4``, the folder right
  under VIDEO_DIR names the sign;
- ``stem``: the file name without its extension (``hello.mp4`` → ``hello``);
- ``stem-suffix``: the part of the file name after the last ``--separator``
  (``가족__남편.mp4`` → ``남편``, the shared KSL videos' naming);
- ``--manifest CSV``: a UTF-8 table with one row per video. Its file column
  (``--file-column``; default the first of file, path, video, filename) is a
  path relative to VIDEO_DIR; its label column (``--label-column``; default
  the first of label, word, gloss, sign, class) may hold commas when quoted
  (``"형,오빠"``). Optional columns ``signer``, ``source_id`` and ``group`` are
  used when present.

Videos run in parallel processes (``--workers``), each with its own
landmark backend; a video whose recording already exists and loads is kept,
so an interrupted run resumes where it stopped. A video that fails (cannot
be decoded, no hand in any frame) is reported at the end without stopping
the others; the exit code is then 1. ``manifest.csv`` is written last and
lists every good recording in OUT_DIR.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from edge_runtime.cli.common import EXIT_FAILED, parser, run, setup_logging
from train.cli.landmarks import NO_DEFAULT, add_landmark_arguments, backend_settings
from train.extract.config import ENGINES, FILE_COLUMNS, LABEL_COLUMNS, LABEL_SOURCES, ExtractConfig
from train.extract.job import ExtractSummary, extract
from train.text import format_table, percent

PROG = "sign-extract"


def summary_text(summary: ExtractSummary) -> str:
    """The end-of-run report: totals, hand coverage, and per-label counts of this run's videos."""
    good = [r for r in summary.results if r.status != "failed"]
    frames = sum(r.frames for r in good)
    hands = sum(r.hand_frames for r in good)
    lines = [
        (f"{PROG}: {len(summary.results)} videos -> {summary.out_dir} "
         f"({summary.backend} backend, model {summary.model_sha256[:12]})"),
        (f"  recordings: {summary.count('new')} new, {summary.count('kept')} kept from an earlier run, "
         f"{len(summary.failed)} failed; manifest lists {len(summary.rows)}"),
        f"  frames: {frames}, with at least one hand: {hands} ({percent(hands, frames)})",
    ]
    per_label: dict[str, list[int]] = {}
    for r in good:
        counts = per_label.setdefault(r.job.label, [0, 0, 0])
        counts[0] += 1
        counts[1] += r.frames
        counts[2] += r.hand_frames
    if per_label:
        table = format_table(("label", "recordings", "frames", "hand frames"),
                             [(label, n, f, percent(h, f)) for label, (n, f, h) in sorted(per_label.items())])
        lines += ["", table]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = parser(PROG, __doc__.strip() + "\n\nexamples:\n"
               "  sign-extract videos/ data/ --hand-model hand_landmarker.task       # videos/<label>/*.mp4\n"
               "  sign-extract ../shared/data/ksl-expert-videos ksl/ --label-from stem-suffix \\\n"
               "      --landmarks mediapipe --workers 2 --max-width 640\n"
               "  sign-extract clips/ data/ --manifest labels.csv --label-column word --signer anna\n")
    p.add_argument("video_dir", type=Path, metavar="VIDEO_DIR", help="folder of videos (searched recursively)")
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="dataset folder to create or extend")
    g = p.add_argument_group("labels")
    g.add_argument("--label-from", choices=LABEL_SOURCES, default="folder",
                   help="take each label from the sub-folder, the file name, or the file name after --separator")
    g.add_argument("--separator", default="__", help="for --label-from stem-suffix: the label follows its last "
                                                     "occurrence")
    g.add_argument("--manifest", type=Path, metavar="CSV",
                   help="label table (UTF-8 CSV, one row per video); overrides --label-from" + NO_DEFAULT)
    g.add_argument("--file-column", help=f"manifest column with the video path (default: the first of "
                                         f"{', '.join(FILE_COLUMNS)}){NO_DEFAULT}")
    g.add_argument("--label-column", help=f"manifest column with the label (default: the first of "
                                          f"{', '.join(LABEL_COLUMNS)}){NO_DEFAULT}")
    g.add_argument("--signer", default="", help="signer name for every video (a manifest 'signer' column wins; "
                                                "default: unknown)" + NO_DEFAULT)
    b = add_landmark_arguments(p)
    b.add_argument("--max-width", type=int, metavar="W",
                   help="downscale wider frames to W pixels, keeping the aspect (default: full size)" + NO_DEFAULT)
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="videos processed in parallel (processes here, or Ray actors with --engine ray)")
    c = p.add_argument_group("cluster")
    c.add_argument("--engine", choices=ENGINES, default="local",
                   help="local: a process pool on this machine; ray: actors on a Ray cluster (pip install "
                        "'signedge[cluster]'); video paths and OUT_DIR must then be on storage every node sees")
    c.add_argument("--address", default=None, metavar="auto|HOST:PORT",
                   help="with --engine ray: the cluster to join (auto: the one this machine belongs to, "
                        "e.g. after `ray start`; default: start a Ray instance on this machine)" + NO_DEFAULT)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    config = ExtractConfig(
        video_dir=args.video_dir, out_dir=args.out_dir, backend=backend_settings(args),
        manifest=args.manifest, label_from=args.label_from, separator=args.separator,
        file_column=args.file_column, label_column=args.label_column, signer=args.signer,
        workers=args.workers, max_width=args.max_width, progress=not args.no_progress,
        engine=args.engine, address=args.address,
    )
    summary = extract(config)
    print(summary_text(summary))
    if summary.failed:
        print(f"{PROG}: {len(summary.failed)} of {len(summary.results)} videos failed:", file=sys.stderr)
        for r in summary.failed:
            print(f"  {r.job.rel}: {r.error}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(_main, argv, prog=PROG))


if __name__ == "__main__":
    main()

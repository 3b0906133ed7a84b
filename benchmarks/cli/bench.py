"""``sign-bench``: accuracy and latency of every exported format against the full model, and the live pipeline.

Thin shell: flags -> a checked plan (run folder, videos, hand models, output
folder: every problem is one line before anything is measured) -> the
classifier table (``benchmarks.bench``) -> the pipeline table
(``benchmarks.pipeline``) -> targets and report files (``benchmarks.report``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import os
import shlex
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from edge_runtime.capture import VIDEO_SUFFIXES
from edge_runtime.cli.common import parser, print_table, run, setup_logging
from edge_runtime.errors import SignedgeError, SourceError
from host.run_folder import RunFolder

PROG = "sign-bench"
SHARED = Path(__file__).resolve().parents[3] / "shared"
SHARED_VIDEOS = SHARED / "data" / "ksl-expert-videos"
SHARED_FULL = SHARED / "models" / "hand_landmarker.task"
SHARED_LITE = SHARED / "models" / "hand_landmarker_lite.task"
DEFAULT_MAX_VIDEOS = 3
DEFAULT_REPEATS = 100
QUICK_REPEATS = 30
DEFAULT_STAGE_CALLS = 50
QUICK_STAGE_CALLS = 20
GENERATED_FRAMES = 60  # frames of the generated sequence (2 s at 30 fps) for the pipeline and frame rows
GENERATED_FPS = 30.0
GENERATED = "generated frames (no hand: palm detector every frame, worst case)"
FAMILY_OUT = Path("bench") / "family"  # --family-only without RUN_DIR writes its report here
DEFAULT_FAMILY_CLASSES = 21  # benchmarks.model_family.DEFAULT_CLASSES, spelled out so --help needs no NumPy import

DESCRIPTION = """\
Benchmark a trained run on this machine, in one report (RUN_DIR/bench/bench.md, bench.json, bench.png):

1. classifier: the Keras model (model.predict and a tf.function call, batch 1) and every exported file
   (f32, f16, dynamic, int8 TFLite and ONNX, from RUN_DIR/export) on the same held-out test sequences:
   accuracy, macro-F1, agreement with Keras, size, load time, peak memory, p50/p95 latency and speed-up
   over the tf.function call at each thread count. Each row and thread count runs in a fresh process.
   Missing exported files are reported as missing (run export-tflite RUN_DIR first). Files with an
   embedding output (sign-train --head cosine): what the prototype match adds on the device (open-set ms:
   Classifier.score with the model's prototypes and 20 words enrolled in memory, minus runner.run).
2. pipeline: real video through the device's own objects (decode -> hand landmarks -> features ->
   inference), per stage and per frame, end-to-end FPS and the time from the end of a sign to its
   result; at the video's own width and at 640 px; litert (full and lite bundles) at each thread count
   and mediapipe (full).
3. model family (--family, or --family-only without a run): every architecture of sign-train, untrained, at
   --family-classes classes and the default spec (T=64, F=116): parameters, f32 and int8 .tflite size,
   builtin ops only, ms per sign (one [1, T, F] run through the device's opener) at each thread count;
   each also with the cosine head (int8, both outputs) and what that head adds over the dense one.
   Size and speed do not depend on the weights; converting needs TensorFlow, so this is a host table.
4. per-stage floor (--stages, on when a hand model is there): every hand model (palm detector, landmark model;
   full and lite; each precision whose bundle exists next to the float one): operations counted from its graph,
   ms per invoke at 1 thread, GFLOP/s, efficiency against this core's peak measured in the same run (a float32
   and an int8 FULLY_CONNECTED probe through the same runtime), the same for whole frames (tracking: landmark
   model only; detection: palm + landmarks), and ESTIMATED ms and fps on a Raspberry Pi 4 and 5 (published
   per-core peaks x this host's efficiency), beside MediaPipe's published 5-9 fps on a Pi 4.
   Without a video, the pipeline and the stage table run on generated frames (no hand: the palm detector runs
   on every frame, the worst case).
5. targets, with PASS / MISS and by how much: int8 at 1 thread >= 5x faster than Keras tf.function;
   every format >= 99% agreement and accuracy within 1 point of Keras; landmarks at 640 px >= 25 fps;
   (family) conv-transformer int8 <= 2 ms per sign at 1 thread; (classifier and family) the embedding head
   + the device's prototype match <= 0.2 ms per sign at 1 thread (int8, the run's architecture).

Run the same command on the device (a Raspberry Pi) to get its figures: rows that need what the device
lacks (TensorFlow, mediapipe) are reported as unavailable, the rest is measured.

Exit status: 0 measured (targets are reported, not enforced, unless --check); 1 an exported file that is
there failed to load or run (or --check and a target was missed); 2 a bad input (no run folder, a missing
video, a bad flag), reported in one line before anything is measured or written.

examples:
  sign-bench runs/demo
  sign-bench runs/demo --video clip.mp4 --threads 1,2,4 --repeats 300 --out bench/pi4
  sign-bench runs/demo --quick                     # one video, fewer timed calls (make demo)
  sign-bench runs/demo --no-pipeline --no-stages   # the classifier table only
  sign-bench runs/demo --no-classifier --no-pipeline --stage-calls 100   # the per-stage floor table only
  sign-bench runs/demo --no-pipeline --family --threads 1   # what the open set costs, head and device
  sign-bench --family-only --threads 1             # the model family alone (report in bench/family)
"""


@dataclass
class Plan:
    """Everything ``sign-bench`` will do, checked before anything is measured."""

    run_dir: Path | None  # None: --family-only without a run
    out: Path
    export_dir: Path
    dataset: Path | None
    threads: list[int]
    repeats: int
    warmup: int
    classifier: bool
    videos: list[Path] = field(default_factory=list)
    pipeline_note: str = ""  # why the pipeline table is skipped, when it is
    pipeline_model: Path | None = None
    hand_model: Path | None = None
    hand_model_lite: Path | None = None
    widths: list[int | None] = field(default_factory=lambda: [None, 640])
    tail_s: float = 1.0
    check: bool = False
    progress: bool = True
    family: bool = False
    family_classes: int = DEFAULT_FAMILY_CLASSES
    generated: bool = False  # the pipeline runs on generated frames (no video)
    stages: bool = False
    stage_note: str = ""  # why the stage table is skipped, when it is
    stage_calls: int = DEFAULT_STAGE_CALLS
    stage_frames: int = GENERATED_FRAMES
    stage_video: Path | None = None  # None: generated frames
    stage_hand_model: Path | None = None
    stage_hand_model_lite: Path | None = None


def _default_threads() -> list[int]:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return [t for t in (1, 2, 4) if t <= cores] or [1]


def _int_list(text: str, flag: str, allow_zero: bool = False) -> list[int]:
    try:
        values = [int(v) for v in str(text).replace(" ", "").split(",") if v]
    except ValueError as err:
        raise SignedgeError(f"{flag} must be comma-separated whole numbers, got {text!r}") from err
    if not values or any(v < (0 if allow_zero else 1) for v in values):
        raise SignedgeError(f"{flag} must be {'0 or more' if allow_zero else 'positive'}, got {text!r}")
    return list(dict.fromkeys(values))


def spread(items: list[Path], count: int) -> list[Path]:
    """``count`` items evenly spread over a sorted list (first and last included): a few videos of each kind."""
    if count <= 0 or count >= len(items):
        return list(items)
    if count == 1:
        return [items[0]]
    step = (len(items) - 1) / (count - 1)
    return [items[round(i * step)] for i in range(count)]


def _videos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def resolve_videos(given: list[Path] | None, max_videos: int) -> tuple[list[Path], bool]:
    """The videos to run and whether the user asked for them; folders and the shared default are spread."""
    if given is None:
        if not SHARED_VIDEOS.is_dir():
            return [], False
        return spread(_videos_in(SHARED_VIDEOS), max_videos), False
    if not given:
        raise SourceError("--video was given no file: name one or more videos or folders of videos")
    videos: list[Path] = []
    for path in given:
        if path.is_dir():
            found = _videos_in(path)
            if not found:
                raise SourceError(f"{path}: no video files in this folder ({', '.join(VIDEO_SUFFIXES)})")
            videos += spread(found, max_videos)
        elif path.is_file():
            videos.append(path)
        else:
            raise SourceError(f"{path}: video file not found")
    return list(dict.fromkeys(videos)), True


def _check_videos(videos: list[Path]) -> None:
    """Open each video once (cheap) so an unreadable one is one line now, not after minutes of measuring."""
    from edge_runtime.capture import VideoFileSource

    for video in videos:
        VideoFileSource(video).close()


def _pipeline_model(export_dir: Path, wanted: str) -> Path | None:
    """The exported file the pipeline's classifier uses: ``wanted``, else the first one there is."""
    from export.formats import BY_NAME, FORMATS

    if wanted not in BY_NAME:
        raise SignedgeError(f"--pipeline-format: unknown format {wanted!r} (choose from {', '.join(BY_NAME)})")
    order = [BY_NAME[wanted]] + [f for f in FORMATS if f.name != wanted]
    return next((export_dir / f.filename for f in order if (export_dir / f.filename).is_file()), None)


def _check_out(folder: Path) -> None:
    """The output folder must be creatable and writable before minutes of measuring depend on it."""
    probe_parent = next((p for p in [folder, *folder.parents] if p.exists()), None)
    if probe_parent is None or not probe_parent.is_dir() or not os.access(probe_parent, os.W_OK):
        raise SignedgeError(f"cannot write the report to {folder}: {probe_parent} is not a writable folder")


def _default_hand(variant: str, shared: Path) -> Path | None:
    """The shared bundle when this checkout sits next to ../shared, else the one ``sign-models`` put in the cache."""
    if shared.is_file():
        return shared
    from edge_runtime.cli.models import default_model_path

    cached = default_model_path(variant)
    return cached if cached.is_file() else None


def build_parser() -> argparse.ArgumentParser:
    p = parser(PROG, DESCRIPTION)
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", nargs="?", default=None,
                   help="run folder written by sign-train (not needed with --family-only)")
    p.add_argument("--video", type=Path, nargs="*", default=argparse.SUPPRESS, metavar="FILE",
                   help=f"videos (or folders of videos) for the pipeline table (default: {SHARED_VIDEOS} when "
                        "present, spread over --max-videos)")
    p.add_argument("--max-videos", type=int, default=argparse.SUPPRESS, metavar="N",
                   help=f"at most N videos from the default set or a folder, evenly spread; 0 = all "
                        f"(default {DEFAULT_MAX_VIDEOS}, --quick 1)")
    p.add_argument("--threads", default=",".join(map(str, _default_threads())), metavar="N,N",
                   help="thread counts for the classifiers and litert landmarks; the default is 1,2,4 up to the "
                        "cores this process may use, here")
    p.add_argument("--repeats", type=int, default=argparse.SUPPRESS, metavar="N",
                   help=f"timed calls per classifier row and thread count (default {DEFAULT_REPEATS}, "
                        f"--quick {QUICK_REPEATS})")
    p.add_argument("--warmup", type=int, default=10, metavar="N", help="untimed calls before the timed ones")
    p.add_argument("--out", type=Path, default=argparse.SUPPRESS, metavar="DIR",
                   help="report folder (default: RUN_DIR/bench)")
    p.add_argument("--export-dir", type=Path, default=argparse.SUPPRESS, metavar="DIR",
                   help="exported models (default: RUN_DIR/export)")
    p.add_argument("--dataset", type=Path, default=argparse.SUPPRESS, metavar="DIR",
                   help="dataset folder, if it moved since training (default: the model card's)")
    p.add_argument("--hand-model", type=Path, default=_default_hand("full", SHARED_FULL), metavar="FILE",
                   help=f"hand_landmarker.task (full) for litert and mediapipe (default: {SHARED_FULL}, else the one "
                        "sign-models downloaded)")
    p.add_argument("--hand-model-lite", type=Path, default=_default_hand("lite", SHARED_LITE), metavar="FILE",
                   help="hand_landmarker_lite.task for litert (mediapipe cannot run it)")
    p.add_argument("--pipeline-format", default="int8", metavar="FORMAT",
                   help="exported format the pipeline classifies with (falls back to one that exists)")
    p.add_argument("--widths", default="0,640", metavar="W,W",
                   help="frame widths for the pipeline table (0 = the video's own)")
    p.add_argument("--tail", type=float, default=1.0, metavar="SECONDS",
                   help="after each video, hold its last frame this long so the last sign ends as it would live")
    p.add_argument("--quick", action="store_true",
                   help=f"one video and {QUICK_REPEATS} timed calls (unless --max-videos / --repeats say otherwise)")
    p.add_argument("--no-classifier", action="store_true", help="skip the classifier table")
    p.add_argument("--no-pipeline", action="store_true", help="skip the pipeline table")
    p.add_argument("--stages", action=argparse.BooleanOptionalAction, default=None,
                   help="the per-stage floor table (default: on when a hand model is there)")
    p.add_argument("--stage-calls", type=int, default=argparse.SUPPRESS, metavar="N",
                   help=f"timed invokes per hand model in the stage table (default {DEFAULT_STAGE_CALLS}, --quick "
                        f"{QUICK_STAGE_CALLS})")
    p.add_argument("--generated-frames", action="store_true",
                   help=f"time the pipeline and the stage table on {GENERATED} even when videos are there")
    p.add_argument("--family", action="store_true",
                   help="also measure the model family (every architecture, untrained: size and ms per sign)")
    p.add_argument("--family-only", action="store_true",
                   help=f"only the model-family table; RUN_DIR is optional (report in RUN_DIR/bench, else "
                        f"{FAMILY_OUT})")
    p.add_argument("--family-classes", type=int, default=DEFAULT_FAMILY_CLASSES, metavar="N",
                   help="vocabulary size the family's models are built for")
    p.add_argument("--check", action="store_true", help="exit with status 1 when a measured target is missed")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return p


def make_plan(args: argparse.Namespace) -> Plan:
    """Check every flag and input; a problem is one ``SignedgeError`` line, before anything is measured."""
    from benchmarks.bench import read_run

    threads = _int_list(args.threads, "--threads")
    widths = [w or None for w in _int_list(args.widths, "--widths", allow_zero=True)]
    if any(w is not None and w < 16 for w in widths):
        raise SignedgeError(f"--widths must be 0 (own width) or at least 16 pixels, got {args.widths!r}")
    repeats = getattr(args, "repeats", QUICK_REPEATS if args.quick else DEFAULT_REPEATS)
    max_videos = getattr(args, "max_videos", 1 if args.quick else DEFAULT_MAX_VIDEOS)
    dataset = getattr(args, "dataset", None)
    for flag, value, low in (("--repeats", repeats, 1), ("--warmup", args.warmup, 0), ("--max-videos", max_videos, 0)):
        if value < low:
            raise SignedgeError(f"{flag} must be at least {low}, got {value}")
    if not args.tail >= 0:
        raise SignedgeError(f"--tail must be 0 or more seconds, got {args.tail}")
    if args.family or args.family_only:
        if args.family_classes < 2:
            raise SignedgeError(f"--family-classes must be at least 2, got {args.family_classes}")
        if importlib.util.find_spec("tensorflow") is None:
            raise SignedgeError("the model-family table converts models with TensorFlow, which is not installed here "
                                "(run it on the training host: pip install 'signedge[train]')")
    if args.family_only:
        return _family_plan(args, threads, repeats)
    if args.run_dir is None:
        raise SignedgeError("RUN_DIR is missing: name a run folder written by sign-train (only --family-only runs "
                            "without one)")
    if args.no_classifier and args.no_pipeline and not args.family and (args.stages is False
                                                                         or args.hand_model is None):
        raise SignedgeError("--no-classifier and --no-pipeline together leave nothing to measure")
    read_run(args.run_dir, dataset)  # the run folder, its card, dataset and test split
    export_dir = getattr(args, "export_dir", RunFolder(args.run_dir).export_dir)
    plan = Plan(run_dir=args.run_dir, out=getattr(args, "out", args.run_dir / "bench"), export_dir=export_dir,
                dataset=dataset, threads=threads, repeats=repeats, warmup=args.warmup,
                classifier=not args.no_classifier, widths=widths, tail_s=args.tail, check=args.check,
                progress=not args.quiet, family=args.family, family_classes=args.family_classes)
    for flag, path in (("--hand-model", args.hand_model), ("--hand-model-lite", args.hand_model_lite)):
        if path is not None and not path.is_file():
            raise SignedgeError(f"{flag} {path}: file not found")
    if args.generated_frames and hasattr(args, "video"):
        raise SignedgeError("--generated-frames and --video exclude each other: give one")
    videos, asked = ([], False) if args.generated_frames else resolve_videos(getattr(args, "video", None), max_videos)
    if videos:
        _check_videos(videos)
    _plan_stages(args, plan, videos)
    if not args.no_pipeline:
        model = _pipeline_model(export_dir, args.pipeline_format)
        if not videos and args.hand_model is not None and model is not None:
            plan.generated, plan.pipeline_model = True, model  # the pipeline on generated frames
            plan.hand_model, plan.hand_model_lite = args.hand_model, args.hand_model_lite
        elif not videos:
            plan.pipeline_note = (f"no videos (none given, and no {SHARED_VIDEOS}) and "
                                  + ("no hand model: give --hand-model hand_landmarker.task" if model is not None else
                                     f"no exported model in {export_dir} (run export-tflite {args.run_dir})"))
        elif args.hand_model is None:
            if asked:
                raise SignedgeError(f"the pipeline table needs --hand-model (no {SHARED_FULL} to default to)")
            plan.pipeline_note = "no hand model: give --hand-model hand_landmarker.task"
        elif model is None:
            if asked:
                raise SignedgeError(f"{export_dir}: no exported model for the pipeline's classifier "
                                    f"(run export-tflite {args.run_dir})")
            plan.pipeline_note = f"no exported model in {export_dir} (run export-tflite {args.run_dir})"
        else:
            plan.videos, plan.pipeline_model = videos, model
            plan.hand_model, plan.hand_model_lite = args.hand_model, args.hand_model_lite
    _check_out(plan.out)
    return plan


def _plan_stages(args: argparse.Namespace, plan: Plan, videos: list[Path]) -> None:
    """The stage table: on when a hand model is there (unless --no-stages), on the first video or generated frames."""
    plan.stage_calls = getattr(args, "stage_calls", QUICK_STAGE_CALLS if args.quick else DEFAULT_STAGE_CALLS)
    if plan.stage_calls < 1:
        raise SignedgeError(f"--stage-calls must be at least 1, got {plan.stage_calls}")
    if args.stages is False:
        plan.stage_note = "--no-stages"
        return
    if args.hand_model is None:
        if args.stages:
            raise SignedgeError(f"--stages needs a hand model: give --hand-model hand_landmarker.task (no {SHARED_FULL}, "
                                "and none downloaded: run sign-models)")
        plan.stage_note = "no hand model: give --hand-model hand_landmarker.task (or run sign-models)"
        return
    plan.stages = True
    plan.stage_hand_model, plan.stage_hand_model_lite = args.hand_model, args.hand_model_lite
    plan.stage_video = videos[0] if videos else None
    plan.stage_frames = QUICK_STAGE_CALLS + 10 if args.quick else GENERATED_FRAMES


def _family_plan(args: argparse.Namespace, threads: list[int], repeats: int) -> Plan:
    """--family-only: no classifier, no pipeline; the run folder, when given, only says where the report goes."""
    if args.run_dir is not None:
        RunFolder(args.run_dir).check_exists(model=False)
    default_out = args.run_dir / "bench" if args.run_dir is not None else FAMILY_OUT
    plan = Plan(run_dir=args.run_dir, out=getattr(args, "out", default_out), export_dir=Path(), dataset=None,
                threads=threads, repeats=repeats, warmup=args.warmup, classifier=False, check=args.check,
                progress=not args.quiet, family=True, family_classes=args.family_classes,
                pipeline_note="--family-only")
    _check_out(plan.out)
    return plan


# Text columns of sign-bench's tables (the others hold numbers).
_LEFT = {"format", "runtime", "note", "width", "size", "backend", "model", "status", "target", "limit", "measured",
         "by how much", "builtin ops", "head", "prototypes", "precision", "stage", "input", "peak", "frame", "source"}


def _print_table(title: str, head: list[str], body: list[list[str]], styles: list[str | None] | None = None) -> None:
    print_table(title, head, body, styles, left=_LEFT, width=180)


def _report_header(plan: Plan, machine: dict[str, Any], argv: Sequence[str] | None) -> dict[str, Any]:
    """What the report says about how it was made: the command, when, on what, with which inputs."""
    return {"command": shlex.join([PROG, *(argv if argv is not None else sys.argv[1:])]),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "run": str(plan.run_dir) if plan.run_dir is not None else "", "machine": machine,
            "config": {"threads": plan.threads, "repeats": plan.repeats, "warmup": plan.warmup,
                       "widths": [w or 0 for w in plan.widths], "tail_s": plan.tail_s,
                       "export_dir": str(plan.export_dir)},
            "videos": [str(v) for v in plan.videos], "pipeline_model": str(plan.pipeline_model or ""),
            "hand_models": {"full": str(plan.hand_model or ""), "lite": str(plan.hand_model_lite or "")},
            "pipeline_skipped": plan.pipeline_note, "pipeline_source": GENERATED if plan.generated else "",
            "stages_skipped": plan.stage_note}


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    plan = make_plan(args)

    from benchmarks.bench import ClassifierConfig, measure_classifiers, read_run
    from benchmarks.machine import header_lines, machine_info
    from benchmarks.pipeline import PipelineConfig, default_backends, measure_pipeline
    from benchmarks.report import (
        classifier_cells,
        evaluate_targets,
        family_cells,
        has_openset,
        openset_cells,
        openset_cost,
        pipeline_cells,
        target_cells,
        write_report,
    )
    from benchmarks.stages import generated_frames
    from train.record import write_video

    machine = machine_info()
    lines = header_lines(machine)
    for line in lines:
        print(line)
    classifier = None
    if plan.classifier:
        classifier = measure_classifiers(ClassifierConfig(plan.run_dir, plan.threads, plan.repeats, plan.warmup,
                                                          plan.export_dir, plan.dataset, plan.progress))
        _print_table(f"Classifier: every format on the {classifier.measured_on} ({classifier.n} sequences, "
                     f"{classifier.calls} timed calls each)", *classifier_cells(classifier),
                     styles=[None if r.ok else "red" for r in classifier.rows])
        if has_openset(classifier):
            _print_table("Open set: runner.run vs Classifier.score (the model's prototypes + enrolled words), "
                         "interleaved", *openset_cells(classifier))
    pipeline: list[Any] = []
    if plan.videos or plan.generated:
        assert plan.pipeline_model is not None
        spec = read_run(plan.run_dir, plan.dataset).spec
        with tempfile.TemporaryDirectory(prefix="sign-bench-") as tmp:
            videos = plan.videos
            if not videos:
                videos = [Path(tmp) / "generated.mp4"]
                write_video(videos[0], generated_frames(GENERATED_FRAMES), GENERATED_FPS)
            pipeline = measure_pipeline(PipelineConfig(
                videos=videos, classifier=plan.pipeline_model, spec=spec,
                backends=default_backends(plan.hand_model, plan.hand_model_lite, plan.threads), widths=plan.widths,
                tail_s=plan.tail_s, progress=plan.progress))
        what = f"{len(plan.videos)} video(s)" if plan.videos else f"{GENERATED_FRAMES} {GENERATED}"
        _print_table(f"Pipeline: {what}, classifier {plan.pipeline_model.name}",
                     *pipeline_cells(pipeline), styles=[None if r.ok else "red" for r in pipeline])
    elif plan.pipeline_note and not args.no_pipeline and not args.family_only:
        print(f"pipeline table skipped: {plan.pipeline_note}")
    stages = _measure_stages(plan)
    family = None
    if plan.family:
        from benchmarks.model_family import FamilyConfig, measure_family
        from host.native_stderr import import_tensorflow

        import_tensorflow(args.verbose)  # the family converts models: TensorFlow's start-up chatter is no result
        family = measure_family(FamilyConfig(classes=plan.family_classes, threads=plan.threads, calls=plan.repeats,
                                             warmup=plan.warmup, progress=plan.progress))
        _print_table(f"Model family: every architecture, untrained, {family.classes} classes, "
                     f"T={family.spec['frames']} ({family.calls} timed runs per file and thread count)",
                     *family_cells(family),
                     styles=[None if r.ok and not r.forbidden_ops else "red" for r in family.rows])
    header = _report_header(plan, machine, argv)
    cost = openset_cost(classifier, family)
    if cost is not None:
        print(cost.sentence(header["command"]))
    targets = evaluate_targets(classifier, pipeline, family)
    if targets:
        _print_table("Targets", *target_cells(targets),
                     styles=["green" if t.status == "PASS" else "red" if t.status == "MISS" else "yellow"
                             for t in targets])
    written = write_report(plan.out, header, classifier, pipeline, targets, lines, family, stages)
    print("report: " + ", ".join(str(p) for p in written))
    failed = [r.name for r in classifier.rows if r.status == "failed"] if classifier is not None else []
    failed += [f"{r.model} {r.format}" for r in family.rows if not r.ok or r.forbidden_ops] if family else []
    failed += [f"{r.model} {r.precision} {r.stage}" for r in stages.stages + stages.frames if not r.ok] if stages else []
    if failed:
        print(f"{PROG}: could not measure {', '.join(failed)} (see the note column)", file=sys.stderr)
    missed = [t for t in targets if t.status == "MISS"]
    return 1 if failed or (plan.check and missed) else 0


def _measure_stages(plan: Plan) -> Any:
    """The per-stage floor tables, printed; None when the plan skips them (the reason is printed)."""
    if not plan.stages:
        if plan.stage_note not in ("", "--no-stages") and plan.pipeline_note != "--family-only":
            print(f"stage table skipped: {plan.stage_note}")
        return None
    from benchmarks.report import frame_cells, stage_cells, stages_lines
    from benchmarks.stages import StagesConfig, hand_bundles, measure_stages

    report = measure_stages(StagesConfig(hand_bundles(plan.stage_hand_model, plan.stage_hand_model_lite),
                                         video=plan.stage_video, calls=plan.stage_calls, frames=plan.stage_frames,
                                         progress=plan.progress))
    _print_table(f"Per-stage floor: hand models, 1 thread, {report.calls} interleaved invokes each",
                 *stage_cells(report), styles=[None if r.ok else "red" for r in report.stages])
    _print_table("Per-stage floor: whole frames (LiteRTHands.process, 1 thread)", *frame_cells(report),
                 styles=[None if r.ok else "red" for r in report.frames])
    for line in stages_lines(report):
        print(line)
    return report


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(_main, argv, prog=PROG))


if __name__ == "__main__":
    main()

"""``sign-enroll``: teach the device a new word from a few examples, without retraining.

A model with an embedding (``sign-train --head cosine``) turns each sign into a unit vector. This command cuts
``--samples`` signs out of the sources (a camera, a video, recordings), stores their embeddings as the word's
prototypes in ``<model>.prototypes.npz`` beside the model (:mod:`edge_runtime.prototypes`), and
``sign-recognize`` then recognises the word alongside the trained ones. ``--list`` shows the enrolled words,
``--remove`` forgets one. Examples are cut exactly as ``sign-recognize`` cuts signs (same flags, same
segmenter; :mod:`edge_runtime.enrollment`). Numpy and an interpreter only: no TensorFlow, no host package.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from edge_runtime.classifier import Classifier, load_classifier
from edge_runtime.cli import inputs
from edge_runtime.cli.common import parser, print_table, run, setup_logging
from edge_runtime.cli.models import NO_DEFAULT
from edge_runtime.enrollment import WHOLE_RECORDING, Example, SourceExamples, distinctness, embed
from edge_runtime.errors import ModelError, SignedgeError, SourceError
from edge_runtime.files import sha256_file
from edge_runtime.prototypes import PrototypeStore, default_path
from edge_runtime.recognizer import check_pipeline
from edge_runtime.segment import SegmentConfig
from edge_runtime.sources import DEFAULT, HELP, Source, SourceKind, parse_source, source_argument

PROG = "sign-enroll"
DEFAULT_SAMPLES = 5

EXAMPLES = """\
examples:
  # teach the word "coffee" from 5 signs in front of the first camera (a prompt before each one)
  sign-enroll --model model_int8.tflite --word coffee --hand-model hand_landmarker.task --signer ana
  # from recordings made with sign-record (no camera, no hand model needed): each one is an example
  sign-enroll --model model_int8.tflite --word 커피 --samples 3 --source take1.npz take2.npz take3.npz
  # from a video holding several signs of the word
  sign-enroll --model model_int8.tflite --word coffee --source coffee.mp4 --hand-model hand_landmarker.task
  # on a Raspberry Pi, from its camera module
  sign-enroll --model model_int8.tflite --word coffee --source picam --hand-model hand_landmarker.task
  # record the word again, replacing its old examples
  sign-enroll --model model_int8.tflite --word coffee --force
  # what the device has learned, and forgetting a word
  sign-enroll --model model_int8.tflite --list
  sign-enroll --model model_int8.tflite --remove coffee

Each sign cut from the sources is one example, cut as sign-recognize cuts signs (the
segment flags are the same); a recording in which no sign is cut counts as one example
as a whole. The examples' embeddings go into <model>.prototypes.npz beside the model:
sign-recognize reads it and recognises the word from then on. It belongs to that model
file alone (a retrained or re-exported model needs its words enrolled again). After
enrolling, the command says how similar the examples are to each other and to the
nearest known words, and warns when the new word will be confused with one: when the
model already takes the examples for a trained word, or when they are more similar to
another word than to each other. Nothing is written when anything goes wrong.
"""


def build_parser() -> argparse.ArgumentParser:
    p = parser(PROG, "Teach the device a new word from a few examples (no retraining).\n\n" + EXAMPLES)
    p.add_argument("--model", required=True, type=Path,
                   help="exported classifier with an embedding (.tflite or .onnx from export-tflite, trained with "
                        "sign-train --head cosine); the words are kept beside it")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--word", help="the word to enroll (any text without commas or line breaks)")
    mode.add_argument("--list", action="store_true", help="show the enrolled words and exit")
    mode.add_argument("--remove", metavar="WORD", help="forget an enrolled word and exit")
    p.add_argument("--samples", type=int, default=DEFAULT_SAMPLES, help="examples to enroll the word from")
    p.add_argument("--source", action="extend", nargs="+", type=source_argument, default=None, metavar="SOURCE",
                   help=f"{HELP}; several may follow one --source or --source may be repeated: they are read in "
                        f"order until --samples examples are found (default: camera {DEFAULT}){NO_DEFAULT}")
    p.add_argument("--signer", default="", help=f"who signs the examples (kept with them, shown by --list){NO_DEFAULT}")
    p.add_argument("--force", action="store_true", help="replace the examples of a word that is already enrolled")
    inputs.add_landmark_arguments(p)
    inputs.add_segment_arguments(p)
    return p


def _check_arguments(args: argparse.Namespace) -> SegmentConfig:
    """The flags' values, checked before the model or a camera opens; the segment configuration."""
    if args.samples < 1:
        raise SignedgeError(f"--samples must be at least 1, got {args.samples}")
    problem = inputs.landmark_arguments_problem(args)
    if problem:
        raise SignedgeError(problem)
    config = inputs.segment_config_from_args(args)
    try:
        config.validate()
    except ValueError as err:
        raise SignedgeError(str(err)) from err
    return config


def open_store(clf: Classifier) -> tuple[PrototypeStore, Path]:
    """The model's enrolled words (an empty store when there is no file yet) and the file they are kept in."""
    if not clf.has_embedding:
        raise ModelError(f"{clf.path.name}: this model has no embedding and class prototypes, so it cannot learn "
                         "words on the device (export it again with this version's export-tflite)")
    path = default_path(clf.path)
    sha256, dim = sha256_file(clf.path), clf.openset.dim
    if path.is_file():
        return PrototypeStore.load(path, sha256, dim), path
    return PrototypeStore.empty(sha256, dim, clf.info.labels), path


def list_words(store: PrototypeStore, path: Path) -> None:
    """The enrolled words as a table: examples and who signed them."""
    enrolled = store.words_enrolled()
    if not enrolled:
        print(f"no words enrolled for this model (they would be kept in {path})")
        return
    rows = []
    for word, count in enrolled.items():
        signers = sorted({s for s in store.signers[store.words == word].tolist() if s})
        rows.append([word, count, ", ".join(signers) or "-"])
    print(f"{path}:")
    print_table(f"{len(enrolled)} enrolled word(s)", ["word", "examples", "signers"], rows, left=("word", "signers"))


def _describe(example: Example, source: Source) -> str:
    if example.reason == WHOLE_RECORDING:
        return f"{source}, the whole recording ({example.frames} frames)"
    return f"{source} {example.start_s:.2f}-{example.end_s:.2f} s ({example.frames} frames)"


def collect_examples(clf: Classifier, sources: Sequence[Source], args: argparse.Namespace, word: str,
                     config: SegmentConfig) -> list[Example]:
    """``args.samples`` examples from the sources in order, or a SourceError saying how many were found."""
    found: list[Example] = []
    for source in sources:
        if len(found) == args.samples:
            break
        with inputs.open_input(source, args) as (opened, backend, what):
            print(f"{PROG}: source {what}", file=sys.stderr)
            examples = SourceExamples(opened, backend, clf, config)
            _take(examples, source, found, args.samples, word)
            _check_source_read(source, examples)
    if len(found) < args.samples:
        named = str(sources[0]) if len(sources) == 1 else f"the {len(sources)} sources"
        raise SourceError(f"found {len(found)} of {args.samples} examples of {word!r} in {named}; give more sources "
                          "or fewer --samples")
    return found


def _take(examples: SourceExamples, source: Source, found: list[Example], wanted: int, word: str) -> None:
    """Append the source's examples to ``found`` until it holds ``wanted``; a camera prompts before each one."""
    cut = iter(examples)
    while len(found) < wanted:
        if source.live:
            print(f"{PROG}: sign {word!r} now (example {len(found) + 1} of {wanted})…", file=sys.stderr, flush=True)
        example = next(cut, None)
        if example is None:
            return
        found.append(example)
        print(f"{PROG}: example {len(found)} of {wanted}: {_describe(example, source)}", file=sys.stderr, flush=True)


def _check_source_read(source: Source, examples: SourceExamples) -> None:
    """A source that gave no frames, or no hand in any frame, is a mistake (a wrong file, a covered camera)."""
    stats = examples.stats
    if stats.frames == 0:
        raise SourceError(f"{source}: the source gave no frames")
    if stats.hand_frames == 0:
        raise SourceError(f"{source}: no hands were found in any of its {stats.frames} frames")


def _check_before_signing(sources: Sequence[Source], args: argparse.Namespace, path: Path) -> None:
    """What would fail only after the user has signed: a missing file, a hand model for pictures, a folder to
    write in."""
    for source in sources:
        if source.kind in (SourceKind.VIDEO, SourceKind.REPLAY) and not source.path.is_file():
            raise SourceError(f"{source}: file not found")
    if args.hand_model is None and any(source.has_images for source in sources):
        raise ModelError(inputs.HAND_MODEL_REQUIRED)
    if not os.access(path.parent, os.W_OK):
        raise PermissionError(f"{path.parent}: cannot write the enrolled words there (the folder is read-only)")


def enroll(clf: Classifier, store: PrototypeStore, path: Path, args: argparse.Namespace,
           config: SegmentConfig) -> None:
    """Cut, embed and store the examples of ``args.word``; then say how distinct the word is."""
    word = store.check_new_word(args.word, args.signer, overwrite=args.force)  # refused before anyone signs
    sources = args.source or [parse_source(DEFAULT)]
    _check_before_signing(sources, args, path)
    print(f"{PROG}: model {inputs.describe_model(clf)}", file=sys.stderr)
    examples = collect_examples(clf, sources, args, word, config)
    embeddings = np.stack([embed(clf, example) for example in examples])
    updated = store.add(word, embeddings, args.signer, overwrite=args.force)
    replacing = word in store.words_enrolled()
    measure = distinctness(embeddings, clf, store.remove(word) if replacing else store)
    updated.save(path)
    signer = f" by {args.signer.strip()}" if args.signer.strip() else ""
    print(f"enrolled {word!r} from {len(examples)} example(s){signer}{' (its old examples replaced)' * replacing} "
          f"into {path} ({len(updated.words_enrolled())} word(s) enrolled)")
    print(f"similarity: {measure.describe()}")
    warning = measure.warning(word)
    if warning:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    inputs.resolve_hand_model(args)  # --hand-model, or where sign-models put it; at --landmark-precision
    config = _check_arguments(args)
    clf = load_classifier(args.model, threads=args.threads, enrolled=False)
    check_pipeline(clf)
    store, path = open_store(clf)
    if args.list:
        list_words(store, path)
        return 0
    if args.remove is not None:
        remaining = store.remove(args.remove)
        remaining.save(path)
        [gone] = set(store.words_enrolled()) - set(remaining.words_enrolled())
        print(f"removed {gone!r} ({store.words_enrolled()[gone]} example(s)) from {path} "
              f"({len(remaining.words_enrolled())} word(s) enrolled)")
        return 0
    enroll(clf, store, path, args, config)
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(_main, argv, prog=PROG))


if __name__ == "__main__":
    main()

"""``sign-recognize``: recognise signs live from a camera, a video file or a recorded ``.npz``.

A thin shell around :class:`edge_runtime.recognizer.Recognizer`: flags become a
``RecognizerConfig``, each recognised sign becomes one line on stdout (JSON
with ``--json``), and status goes to stderr so stdout stays machine-readable.
On a device: ``--serve`` adds a read-only web page (``edge_runtime.web``),
``--speak`` says the words (``edge_runtime.speech``), ``--print-systemd-unit``
prints the service that runs it all at boot (``edge_runtime.service``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from edge_runtime.classifier import Classifier, load_classifier
from edge_runtime.cli.common import parser, run, setup_logging
from edge_runtime.cli.inputs import (
    HAND_MODEL_REQUIRED,
    add_landmark_arguments,
    add_segment_arguments,
    describe_model,
    landmark_arguments_problem,
    open_input,
    resolve_hand_model,
    segment_config_from_args,
)
from edge_runtime.errors import ModelError, SourceError
from edge_runtime.recognizer import FrameView, Recognizer, RecognizerConfig, check_pipeline
from edge_runtime.segment import DecisionConfig
from edge_runtime.sources import SourceKind, add_source_argument
from edge_runtime.speech import SpeechConfig
from edge_runtime.web.live import WebConfig

if TYPE_CHECKING:
    from edge_runtime.web.live import LiveView
    from edge_runtime.web.server import WebServer

PROG = "sign-recognize"
log = logging.getLogger(__name__)

EXAMPLES = """\
examples:
  # live from the first camera, the device default (LiteRT landmarks, headless)
  sign-recognize --model model_int8.tflite --hand-model hand_landmarker.task
  # a video file, one JSON line per sign
  sign-recognize --model model_float.onnx --source clip.mp4 --hand-model hand_landmarker.task --json
  # replay recorded landmarks (no camera, no hand model needed)
  sign-recognize --model model_int8.tflite --source recordings/hello/take1.npz
  # the Pi camera module, a web page at http://127.0.0.1:8000/, and the words spoken in Korean
  sign-recognize --model model_int8.tflite --hand-model hand_landmarker.task --source picam --serve --speak
  # the same as a service that starts at boot (see the README to install it)
  sign-recognize --model model_int8.tflite --hand-model hand_landmarker.task --source picam --print-systemd-unit

A sign starts when hands appear or move, and ends when they leave (--end-gap) or
rest (--rest). A sign below the threshold is reported as "unknown" (hide with
--hide-unknown; --sliding always hides them): a model with an embedding (sign-train
--head cosine) carries its own threshold, chosen on validation people, on the
sign's best cosine similarity to a word's prototype; words added with sign-enroll
are recognised alongside the trained ones. Status and a summary go to stderr.
With --serve, a replay or video plays at its own speed, and when it ends the page
stays up until Ctrl-C.
"""


def build_parser() -> argparse.ArgumentParser:
    dec = DecisionConfig()
    p = parser(PROG, "Recognise signs live from a camera, a video file or a recorded .npz.\n\n" + EXAMPLES)
    p.add_argument("--model", required=True, type=Path,
                   help="exported classifier (.tflite or .onnx from export-tflite: it carries its own description; "
                        "an older file's <model>.json sidecar is still read)")
    add_source_argument(p)
    add_landmark_arguments(p)
    p.add_argument("--show", action="store_true", help="draw landmarks, the word and FPS in a window")
    p.add_argument("--json", action="store_true", help="one JSON object per line instead of readable lines")
    p.add_argument("--sliding", action="store_true",
                   help="classify a window of T frames every --stride frames instead of hand-driven segments")
    p.add_argument("--stride", type=int, default=RecognizerConfig().stride, help="frames between sliding windows")
    p.add_argument("--threshold", type=float, default=dec.threshold,
                   help="below it a sign is 'unknown'. Default: the model's own (a model with an embedding: the "
                        "cosine similarity to the nearest prototype, -1..1, chosen on validation people; an older "
                        "model: 0.5 on the top softmax probability)")
    p.add_argument("--cooldown", type=float, default=dec.cooldown_s,
                   help="seconds during which the same label is not reported again")
    p.add_argument("--hide-unknown", action="store_true", help="do not report signs below --threshold")
    add_segment_arguments(p)
    p.add_argument("--loop", action="store_true", help="replay a .npz recording again and again (demos, load tests)")
    web, speech = WebConfig(), SpeechConfig()
    g = p.add_argument_group("web view", "a read-only page with the picture, the word, the last words and timings")
    g.add_argument("--serve", action="store_true", help="serve the live web page while recognising")
    g.add_argument("--host", default=web.host,
                   help="address the page listens on; the default is this device only, 0.0.0.0 is every network")
    g.add_argument("--port", type=int, default=web.port, help="TCP port of the page (0: any free port, printed)")
    g.add_argument("--web-fps", type=float, default=web.fps,
                   help="most pictures (and state updates) per second, however many browsers watch")
    g = p.add_argument_group("speech", "say each recognised word with espeak-ng (sudo apt install espeak-ng)")
    g.add_argument("--speak", action="store_true", help="say each recognised word aloud")
    g.add_argument("--voice", default=speech.voice, help="espeak-ng voice (espeak-ng --voices lists them)")
    g.add_argument("--speak-to-file", type=Path, default=None, metavar="DIR",
                   help="write each spoken word to DIR/NNNN-word.wav instead of playing it (implies --speak)")
    p.add_argument("--print-systemd-unit", action="store_true",
                   help="print a systemd unit that runs this command (with --serve) at boot, then exit")
    return p


def config_from_args(args: argparse.Namespace) -> RecognizerConfig:
    return RecognizerConfig(
        segment=segment_config_from_args(args),
        decision=DecisionConfig(threshold=args.threshold, cooldown_s=args.cooldown,
                                report_unknown=not (args.hide_unknown or args.sliding)),
        sliding=args.sliding,
        stride=args.stride,
    )


def web_config_from_args(args: argparse.Namespace) -> WebConfig:
    return WebConfig(host=args.host, port=args.port, fps=args.web_fps)


def speech_config_from_args(args: argparse.Namespace) -> SpeechConfig | None:
    """None without --speak / --speak-to-file. A word is not said again within --cooldown seconds."""
    if not (args.speak or args.speak_to_file):
        return None
    return SpeechConfig(voice=args.voice, cooldown_s=args.cooldown, to_dir=args.speak_to_file)


@contextlib.contextmanager
def stop_on_signal(recognizer: Recognizer) -> Iterator[threading.Event]:
    """First Ctrl-C (or SIGTERM from systemd) ends the run cleanly: the open sign is flushed and the
    summary printed. A second one interrupts at once. Yields an Event that is set once a signal came."""
    signalled = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield signalled
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: Any) -> None:
        signalled.set()
        recognizer.stop()
        for sig, old in previous.items():
            signal.signal(sig, old)

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield signalled
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def wait_for_signal() -> None:
    """Block until Ctrl-C or SIGTERM: the page of a finished replay or video stays up until the user is done."""
    if threading.current_thread() is not threading.main_thread():
        return
    done = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda signum, frame: done.set())
    try:
        while not done.wait(0.5):
            pass
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _check_service_inputs(args: argparse.Namespace) -> None:
    """What a service would fail on at boot, checked now: the hand model of a camera or video source."""
    if args.source.kind is SourceKind.REPLAY:
        if not args.source.path.is_file():
            raise SourceError(f"{args.source}: recording file not found")
        return
    if args.hand_model is None:
        raise ModelError(HAND_MODEL_REQUIRED)
    if not args.hand_model.is_file():
        raise ModelError(f"{args.hand_model}: hand model not found")


def _start_web_view(stack: contextlib.ExitStack, config: WebConfig, clf: Classifier,
                    what: str) -> tuple[LiveView, WebServer]:
    """The LiveView slot and its server, started and registered on ``stack``; the port is bound first, so a
    taken port or an address of another machine is one line before anything else is printed."""
    from edge_runtime.web import LiveView, is_loopback, open_server

    live = LiveView(clf.labels, config, {"source": what, "model": describe_model(clf)})
    server = open_server(live, config)
    stack.enter_context(live)
    stack.enter_context(server)
    if not is_loopback(config.host):
        log.warning("the page listens on %s: anyone who can reach this device on port %d can watch it",
                    config.host, server.port)
    return live, server


def _main(argv: Sequence[str] | None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    resolve_hand_model(args)  # --hand-model, or where sign-models put it; at --landmark-precision
    setup_logging(args.verbose)
    config = config_from_args(args)
    web_config = web_config_from_args(args)
    speech_config = speech_config_from_args(args)
    try:
        config.segment.validate()
        config.decision.validate()
        web_config.validate()
        if speech_config is not None:
            speech_config.validate()
    except ValueError as err:
        p.error(str(err))
    if args.stride < 1:
        p.error("--stride must be >= 1")
    problem = landmark_arguments_problem(args)
    if problem:
        p.error(problem)
    if args.loop and args.source.kind is not SourceKind.REPLAY:
        p.error("--loop repeats a .npz replay (a camera never ends, a video file is read once)")

    clf = load_classifier(args.model, threads=args.threads)
    check_pipeline(clf)  # before any camera or window opens
    if args.print_systemd_unit:
        from edge_runtime.service import service_arguments, systemd_unit
        from edge_runtime.speech import find_engine

        _check_service_inputs(args)
        if speech_config is not None:
            find_engine(speech_config)
        print(systemd_unit(service_arguments(p, args)), end="")
        return 0

    with contextlib.ExitStack() as stack:
        speaker = None
        if speech_config is not None:
            from edge_runtime.speech import Speaker

            speaker = stack.enter_context(Speaker(speech_config))  # no engine or voice: one line, before anything
        source, backend, what = stack.enter_context(open_input(args.source, args))
        if args.loop:
            from edge_runtime.web.pacing import Looped

            source = Looped(source)
        live = server = None
        if args.serve:
            from edge_runtime.web.pacing import RealTime

            if not args.source.live:
                source = RealTime(source)  # a watched replay or video plays at its own speed
            live, server = _start_web_view(stack, web_config, clf, what)
        print(f"{PROG}: model {describe_model(clf)}", file=sys.stderr)
        print(f"{PROG}: source {what}", file=sys.stderr)
        if server is not None:
            print(f"{PROG}: web view at {server.url}", file=sys.stderr, flush=True)
        display = None
        if args.show:
            from edge_runtime.display import open_display

            display = open_display(PROG, clf.labels)
        recognizer = Recognizer(source, backend, clf, config)
        watchers: list[Callable[[FrameView], None]] = []
        if display is not None:
            def show(view: FrameView) -> None:
                display(view, recognizer.aspect)
                if display.closed:
                    recognizer.stop()

            watchers.append(show)
        if live is not None:
            page = live
            watchers.append(lambda view: page.on_frame(view, aspect=recognizer.aspect, stats=recognizer.stats))
        if watchers:
            def on_frame(view: FrameView) -> None:
                for watcher in watchers:
                    watcher(view)

            recognizer.on_frame = on_frame
        try:
            with stop_on_signal(recognizer) as signalled:
                for event in recognizer:
                    print(event.to_json() if args.json else event.describe(), flush=True)
                    if live is not None:
                        live.on_event(event)
                    if speaker is not None and event.known:
                        speaker.say(event.label)
        finally:
            if display is not None:
                display.close()
        stats = recognizer.stats
        if stats.frames == 0:
            raise SourceError(f"{args.source}: the source gave no frames")
        print(f"{PROG}: {stats.summary()}", file=sys.stderr)
        if stats.hand_frames == 0:
            print(f"{PROG}: no hands were found in any of the {stats.frames} frames", file=sys.stderr)
        if live is not None and server is not None:
            live.finish("stopped" if signalled.is_set() else "the stream has ended")
            if not signalled.is_set():
                print(f"{PROG}: end of the stream; the page stays up at {server.url} until Ctrl-C", file=sys.stderr,
                      flush=True)
                wait_for_signal()
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(_main, argv, prog=PROG))


if __name__ == "__main__":
    main()

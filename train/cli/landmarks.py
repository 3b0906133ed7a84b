"""The landmark flags of the commands that run a landmark backend (``sign-extract``, ``sign-record``).

Shared so both commands spell ``--landmarks``, ``--hand-model`` and
``--threads`` the same way and turn them into the same ``BackendSettings``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edge_runtime.cli.models import default_hand_model, default_model_path
from edge_runtime.errors import ModelError
from edge_runtime.landmarks import BACKENDS
from edge_runtime.landmarks.precision import add_precision_argument, precision_bundle
from train.extract.config import BackendSettings

# In a help text, stops the shared help formatter from appending "(default: None)" where None means "automatic".
NO_DEFAULT = "%(default).0s"


def resolve_hand_model(path: Path | None) -> Path:
    """``--hand-model``, or the bundle ``sign-models`` installed, or one clear error saying how to get one."""
    if path is not None:
        return path.expanduser()
    found = default_hand_model()
    if found is None:
        raise ModelError(f"no hand model: pass --hand-model PATH (a hand_landmarker.task) or run sign-models, "
                         f"which puts one at {default_model_path('full')}")
    return found


def add_landmark_arguments(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The landmark flags of every command that extracts landmarks (sign-extract, sign-record)."""
    b = p.add_argument_group("landmarks")
    b.add_argument("--landmarks", choices=BACKENDS, default="litert",
                   help="landmark backend; litert is what the device runs, so host and device features match")
    b.add_argument("--hand-model", type=Path, metavar="PATH",
                   help=f"hand_landmarker.task bundle (default: {default_model_path('full')}, where sign-models "
                        f"puts it){NO_DEFAULT}")
    b.add_argument("--threads", type=int, metavar="N",
                   help="interpreter threads (per worker), litert backend (default: the interpreter's)" + NO_DEFAULT)
    add_precision_argument(b)
    return b


def backend_settings(args: argparse.Namespace) -> BackendSettings:
    """The parsed landmark flags as the settings a worker opens its backend with."""
    model = precision_bundle(resolve_hand_model(args.hand_model), args.landmark_precision, args.landmarks)
    return BackendSettings(args.landmarks, str(model), args.threads)

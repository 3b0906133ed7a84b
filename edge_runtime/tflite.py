"""Load a TFLite interpreter from whichever runtime the device has.

Order: ``ai_edge_litert`` (LiteRT, the maintained successor), then
``tflite_runtime`` (frozen at 2.14, Python <= 3.11), then ``tensorflow.lite``
(only where full TensorFlow happens to be installed, e.g. a training host).
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.errors import ModelError

log = logging.getLogger(__name__)

_CANDIDATES = (
    ("ai_edge_litert", "ai_edge_litert.interpreter"),
    ("tflite_runtime", "tflite_runtime.interpreter"),
    ("tensorflow.lite", "tensorflow.lite"),
)


def interpreter_class() -> tuple[Any, str]:
    """The first importable Interpreter class and the name of its runtime."""
    tried = []
    for name, module in _CANDIDATES:
        try:
            mod = importlib.import_module(module)
        except ImportError as err:
            tried.append(f"{name} ({err.__class__.__name__})")
            continue
        return mod.Interpreter, name
    raise ModelError("no TFLite runtime installed: pip install ai-edge-litert (tried " + ", ".join(tried) + ")")


def runtime_name() -> str:
    """The name of the TFLite runtime this machine would use, without opening a model (a ModelError if none)."""
    return interpreter_class()[1]


def load_interpreter(model: str | Path | bytes, threads: int | None = None) -> tuple[Any, str]:
    """An allocated interpreter for a ``.tflite`` path or its bytes, and the runtime's name."""
    cls, runtime = interpreter_class()
    kwargs: dict[str, Any] = {"num_threads": threads} if threads else {}
    try:
        if isinstance(model, (bytes, bytearray)):
            interp = cls(model_content=bytes(model), **kwargs)
        else:
            path = Path(model)
            if not path.is_file():
                raise ModelError(f"{path}: model file not found")
            interp = cls(model_path=str(path), **kwargs)
        interp.allocate_tensors()
    except ModelError:
        raise
    except (ValueError, RuntimeError) as err:
        where = "model" if isinstance(model, (bytes, bytearray)) else str(model)
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(f"{where}: not a usable TFLite model ({first})") from err
    log.info("TFLite runtime: %s", runtime)
    return interp, runtime


class RawGraph:
    """A ``.tflite`` graph fed one input tensor as it is: for timing a hand model or a peak probe.

    Classifier files open through :func:`edge_runtime.model_file.open_model`
    (which checks their description) and the hand pipeline through
    :mod:`edge_runtime.landmarks`; this is the one door for a bare graph,
    so the benchmarks never reach for an interpreter class themselves.
    """

    def __init__(self, model: str | Path | bytes, threads: int | None = 1) -> None:
        self.interp, self.runtime = load_interpreter(model, threads)
        detail = self.interp.get_input_details()[0]
        self.input_index = detail["index"]
        self.input_shape = [int(v) for v in detail["shape"]]
        self.input_dtype = np.dtype(detail["dtype"])
        scale, zero = detail.get("quantization", (0.0, 0))
        self.input_scale, self.input_zero = float(scale), int(zero)

    def set_input(self, x: np.ndarray) -> None:
        self.interp.set_tensor(self.input_index, x)

    def invoke(self) -> None:
        self.interp.invoke()

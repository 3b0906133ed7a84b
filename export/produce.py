"""One format, start to finish: convert, write atomically, verify with the device's runner, check it as the device.

``export-tflite`` (``export.pipeline``) and the cross-validation export check
(``train.fold_export``) both call :func:`produce` once per format, so a file
is made and judged the same way wherever it is made:

1. convert (``export.convert``) with the model's description embedded in the
   same pass (``edge_runtime.model_info``: labels, spec, provenance), so the
   bytes verified are the bytes shipped;
2. write atomically (a failure never leaves half a file under the final name);
3. open it ONCE with ``edge_runtime.model_file.open_model`` and verify it on the
   held-out inputs against the Keras probabilities (``export.verify``: the
   format's gate);
4. hand that same opened file to the device classifier
   (``classifier_from_runner``): it reads the embedded description as the
   device will, and its answer on the first input must be the verified one.
   Nothing is opened twice: the runner is the device's, only the description
   reading and the classifier's checks are new in this step.

:func:`prepare` makes what every format converts from: the batch-1 unrolled
rebuild (checked against the trained model) and its SavedModel.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.classifier import Classifier, classifier_from_runner
from edge_runtime.errors import SignedgeError
from edge_runtime.model_file import ModelRunner
from edge_runtime.model_info import DESCRIPTION_KEY, ModelInfo, sidecar_path
from edge_runtime.spec import FeatureSpec
from export.formats import Format
from export.verify import Verification, verify_file

log = logging.getLogger(__name__)


@dataclass
class Conversion:
    """What every format of one model is converted from."""

    model: Any  # the trained Keras model (ONNX converts its batch-1 rebuild with the loops kept)
    spec: FeatureSpec
    saved_model_dir: Path | None  # the unrolled batch-1 SavedModel every .tflite converts from
    calibration: np.ndarray | None = None  # features of the training recordings, for formats that need them
    int8_io: bool = False  # int8 input/output tensors for full-integer formats
    quiet: bool = True  # keep the C++ converters' stderr off the terminal
    parity: float = 0.0  # max |rebuild - trained model| on the held-out inputs
    reference_embedding: np.ndarray | None = None  # the Keras model's embeddings of the held-out inputs (if any)


@contextmanager
def prepare(model: Any, spec: FeatureSpec, formats: Sequence[Format], X: np.ndarray, reference: np.ndarray,
            calibration: np.ndarray | None = None, int8_io: bool = False, quiet: bool = True,
            prefix: str = "signedge-export-") -> Iterator[Conversion]:
    """The rebuild, proven equal to the trained model on ``X``, and its SavedModel (in a temporary folder)."""
    from edge_runtime.model_file import PROBABILITIES
    from export.convert import saved_model
    from export.rebuild import check_parity, static_clone, with_embedding_output
    from host.openset import embeddings

    unrolled = static_clone(model, spec, unroll=True)
    parity = check_parity(unrolled, reference, X)
    exports_embedding = PROBABILITIES in {layer.name for layer in model.layers}  # see rebuild.with_embedding_output
    reference_embedding = embeddings(model, X)[1] if exports_embedding and len(X) else None
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        sm_dir = (saved_model(with_embedding_output(unrolled), Path(tmp))
                  if any(f.converter == "tflite" for f in formats) else None)
        yield Conversion(model, spec, sm_dir, calibration, int8_io, quiet, parity, reference_embedding)


def convert_format(fmt: Format, conversion: Conversion, metadata: dict[str, bytes]) -> bytes:
    """The bytes of ``fmt``'s file, ``metadata`` embedded; an ExportError when the converter fails."""
    from export import convert
    from export.rebuild import static_clone, with_embedding_output

    if fmt.converter == "onnx":
        looped = with_embedding_output(static_clone(conversion.model, conversion.spec, unroll=False))
        return convert.convert_onnx(looped, conversion.spec.frames, conversion.spec.num_features,
                                    quiet=conversion.quiet, metadata=metadata)
    assert conversion.saved_model_dir is not None, "prepare() makes the SavedModel when a format is TFLite"
    calibration = conversion.calibration if fmt.needs_calibration else None
    return convert.convert_tflite(conversion.saved_model_dir, fmt, calibration, conversion.int8_io,
                                  quiet=conversion.quiet, metadata=metadata)


@dataclass
class Produced:
    """One written file and how it measured up."""

    row: Verification
    probs: np.ndarray | None  # the file's own outputs on the held-out inputs (None: it did not run)
    classifier: Classifier | None  # the file as the device uses it (None: it did not run or was refused)


def produce(fmt: Format, path: Path, conversion: Conversion, description: ModelInfo, X: np.ndarray, y: np.ndarray,
            reference: np.ndarray, threads: int = 1, min_agreement: float | None = None,
            progress: bool = False) -> Produced:
    """Convert, write, verify and device-check one format (see the module docstring).

    A converter failure raises ExportError and writes nothing; a file that fails
    its gate or the device check is written and its row says why.
    """
    from export.convert import write_model

    start = time.perf_counter()
    data = convert_format(fmt, conversion, {DESCRIPTION_KEY: description.embedded()})
    seconds = time.perf_counter() - start
    sidecar_path(path).unlink(missing_ok=True)  # an older export's sidecar must never sit beside the new file
    write_model(path, data)
    row, probs, runner = verify_file(path, fmt, X, y, reference, seconds, threads, min_agreement, progress,
                                     conversion.reference_embedding)
    if runner is None or probs is None:
        return Produced(row, probs, None)
    classifier = _device_check(row, runner, description.spec, X, probs)
    return Produced(row, probs, classifier)


def _device_check(row: Verification, runner: ModelRunner, spec: FeatureSpec, X: np.ndarray,
                  probs: np.ndarray) -> Classifier | None:
    """The device classifier over the verified file; a refusal or another answer fails the row."""
    problem = None
    classifier = None
    try:
        classifier = classifier_from_runner(runner, expected_spec=spec)
        if len(X) and int(np.argmax(classifier.predict(X[0]))) != int(np.argmax(probs[0])):
            problem = "the device classifier's prediction differs from the verified output"
    except (SignedgeError, ValueError) as err:
        problem = f"the device classifier refuses it: {err}"
        classifier = None
    if problem:
        log.error("%s: %s", row.format, problem)
        row.problems.append(problem)
        row.passed = False
    return classifier

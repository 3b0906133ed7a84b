"""What an exported model is: labels, feature spec and T, provenance. Carried INSIDE the model file.

``export-tflite`` embeds this description in every file it writes (TFLite: a
``Model.metadata`` entry named ``signedge``; ONNX: the ``signedge`` entry of
``metadata_props``), so the one file is all the device needs. The tensors
(shapes, int8 scale and zero point) are not part of it: the runner reads the
file's real ones (``edge_runtime.model_file``).

Files exported before the description was embedded carry a ``<model file>.json``
sidecar instead; it is still read, and its claimed tensor shapes are checked
against the file. A corrupt embedded description is an error, never a reason to
look for a sidecar: it means the file is not what export wrote.

``python -m edge_runtime.cli.model_info MODEL`` prints a file's description.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge_runtime.errors import ModelError, SignedgeError
from edge_runtime.model_file import ModelRunner, TensorInfo, open_model
from edge_runtime.openset import OPENSET_KEY, OpenSet
from edge_runtime.spec import FeatureSpec, SpecMismatchError

__all__ = ["DESCRIPTION_KEY", "ModelInfo", "TensorInfo", "model_info", "read_model_info", "sidecar_path"]

DESCRIPTION_KEY = "signedge"  # the TFLite metadata name and the ONNX metadata_props key
SIDECAR_SUFFIX = ".json"


@dataclass
class ModelInfo:
    format: str  # a row name of export.formats.FORMATS, e.g. "int8"
    labels: list[str]
    spec: FeatureSpec
    input: TensorInfo | None = None  # the file's real tensors once it is opened (not embedded)
    output: TensorInfo | None = None
    source_model_sha256: str = ""
    landmark_backend: str = ""
    landmark_model_sha256: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # A model with an embedding output: its class prototypes, scale and open-set threshold (edge_runtime.openset).
    openset: OpenSet | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(dataclasses.replace(self, openset=None))
        data["spec"] = self.spec.to_dict()
        data[OPENSET_KEY] = self.openset.to_dict() if self.openset is not None else None
        return data

    def embedded(self) -> bytes:
        """The description as export embeds it: UTF-8 JSON, without the tensors (the file has its own)."""
        data = {k: v for k, v in self.to_dict().items() if k not in ("input", "output")}
        return json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")

    @classmethod
    def from_dict(cls, data: Any, where: str = "description") -> "ModelInfo":
        if not isinstance(data, dict):
            raise ModelError(f"{where}: not a model description (expected a JSON object)")
        try:
            if not isinstance(data["labels"], list):
                raise TypeError("'labels' is not a list")
            try:
                spec = FeatureSpec.from_dict(data["spec"])
            except SpecMismatchError as err:  # which file it is matters as much as what is wrong
                raise SpecMismatchError(f"{where}: {err}") from err
            tensors = [TensorInfo(**data[k]) if k in data else None for k in ("input", "output")]
            labels = [str(x) for x in data["labels"]]
            block = data.get(OPENSET_KEY)
            return cls(
                format=str(data["format"]), labels=labels, spec=spec,
                input=tensors[0], output=tensors[1],
                source_model_sha256=data.get("source_model_sha256", ""),
                landmark_backend=data.get("landmark_backend", ""),
                landmark_model_sha256=data.get("landmark_model_sha256", ""),
                extra=dict(data.get("extra", {})),
                openset=OpenSet.from_dict(block, labels, where) if block is not None else None,
            )
        except SignedgeError:
            raise
        except KeyError as err:
            raise ModelError(f"{where}: malformed model description (missing {err})") from err
        except (TypeError, ValueError) as err:
            raise ModelError(f"{where}: malformed model description ({type(err).__name__}: {err})") from err


def sidecar_path(model_path: str | Path) -> Path:
    p = Path(model_path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def _parse(text: bytes, where: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelError(f"{where}: not valid JSON ({err})") from err


def _check_claim(path: Path, what: str, real: TensorInfo, claimed: TensorInfo | None) -> None:
    """A sidecar's tensor shape must be the file's (dynamic dims, -1/0, match anything)."""
    if claimed is None:
        return
    if len(real.shape) != len(claimed.shape):
        raise ModelError(f"{path}: {what} tensor has shape {real.shape}, the sidecar says {claimed.shape}")
    for dim, side in zip(real.shape, claimed.shape):
        if dim > 0 and side > 0 and dim != side:
            raise ModelError(f"{path}: {what} tensor has shape {real.shape}, the sidecar says {claimed.shape} "
                             "(was the sidecar written for another model?)")


def model_info(runner: ModelRunner) -> ModelInfo:
    """The description of an opened file: embedded, else an older file's sidecar; tensors are the file's own."""
    path = runner.path
    embedded = runner.metadata.get(DESCRIPTION_KEY)
    if embedded is not None:
        where = f"{path} (embedded description)"
        info = ModelInfo.from_dict(_parse(embedded, where), where)
    else:
        sidecar = sidecar_path(path)
        if not sidecar.is_file():
            raise ModelError(f"{path}: no embedded description and no sidecar {sidecar.name} next to it "
                             "(export models with export-tflite)")
        info = ModelInfo.from_dict(_parse(sidecar.read_bytes(), str(sidecar)), str(sidecar))
        _check_claim(path, "input", runner.input, info.input)
        _check_claim(path, "output", runner.output, info.output)
    info.input, info.output = runner.input, runner.output
    return info


def read_model_info(model_path: str | Path) -> ModelInfo:
    """Open a model file and return its description (see :func:`model_info`)."""
    return model_info(open_model(model_path))

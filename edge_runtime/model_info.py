"""The sidecar that makes an exported model self-describing: ``<model file>.json``.

``export-tflite`` writes it next to every ``.tflite``/``.onnx`` file; the
device reads it to learn the labels, the feature spec and T, and how to feed
the input. A model whose spec this runtime does not compute is refused here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge_runtime.errors import ModelError, SignedgeError
from edge_runtime.files import write_json
from edge_runtime.spec import FeatureSpec

SIDECAR_SUFFIX = ".json"


@dataclass
class TensorInfo:
    name: str
    shape: list[int]
    dtype: str  # numpy dtype name: float32, int8, uint8
    scale: float = 0.0  # quantisation; 0 when the tensor is float
    zero_point: int = 0


@dataclass
class ModelInfo:
    format: str  # a row name of export.formats.FORMATS, e.g. "int8"
    labels: list[str]
    spec: FeatureSpec
    input: TensorInfo
    output: TensorInfo
    source_model_sha256: str = ""
    landmark_backend: str = ""
    landmark_model_sha256: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["spec"] = self.spec.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "sidecar") -> "ModelInfo":
        try:
            spec = FeatureSpec.from_dict(data["spec"])
            return cls(
                format=str(data["format"]), labels=[str(x) for x in data["labels"]], spec=spec,
                input=TensorInfo(**data["input"]), output=TensorInfo(**data["output"]),
                source_model_sha256=data.get("source_model_sha256", ""),
                landmark_backend=data.get("landmark_backend", ""),
                landmark_model_sha256=data.get("landmark_model_sha256", ""),
                extra=dict(data.get("extra", {})),
            )
        except SignedgeError:
            raise
        except (KeyError, TypeError, ValueError) as err:
            raise ModelError(f"{where}: malformed model sidecar ({type(err).__name__}: {err})") from err


def sidecar_path(model_path: str | Path) -> Path:
    p = Path(model_path)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def write_model_info(model_path: str | Path, info: ModelInfo) -> Path:
    path = sidecar_path(model_path)
    write_json(path, info.to_dict())
    return path


def read_model_info(model_path: str | Path) -> ModelInfo:
    """The sidecar of a model file; a missing or malformed one is a one-line ModelError."""
    path = sidecar_path(model_path)
    if not path.is_file():
        raise ModelError(f"{model_path}: no sidecar {path.name} next to it (export models with export-tflite)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise ModelError(f"{path}: not a model sidecar")
    return ModelInfo.from_dict(data, str(path))

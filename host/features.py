"""Dataset recordings into model arrays, through the one feature spec: what training, export and the benchmarks
all feed a model (a recording cut to its sign as the device cuts a live stream, then the spec's input)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from edge_runtime.dataset import Dataset, Recording
from edge_runtime.errors import DatasetError
from edge_runtime.segment import sign_span
from edge_runtime.spec import FeatureSpec


def trim_to_sign(rec: Recording, span: tuple[int, int] | None = None) -> Recording:
    """The frames of the sign, cut as the device's segmenter cuts a live stream.

    A recording holds rest frames (no hands, or hands still) around the sign;
    the device never classifies those. Training, validation and export checks
    all see exactly what the device will see. Where the segmenter finds no
    sign (hands still throughout), the whole recording is kept. ``span``: a
    cut found earlier with :func:`sign_span_of` (a streaming reader keeps the
    spans, two integers a recording, so it cuts each epoch without re-running
    the segmenter).
    """
    span = sign_span_of(rec) if span is None else span
    start, stop = span
    if (start, stop) == (0, rec.num_frames):
        return rec
    pose = None if rec.pose is None else rec.pose[start:stop]
    return dataclasses.replace(rec, landmarks=rec.landmarks[start:stop], present=rec.present[start:stop],
                               score=rec.score[start:stop], pose=pose)


def sign_span_of(rec: Recording) -> tuple[int, int]:
    """``[start, stop)`` of the sign in ``rec`` (the whole recording when the segmenter finds none)."""
    span = sign_span(rec.hands, rec.fps)
    return (0, rec.num_frames) if span is None else span


def load_features(dataset: Dataset | str | Path, files: Sequence[str] | None, spec: FeatureSpec,
                  labels: Sequence[str], progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """X [n, T, F] float32 and y [n] class indices for the manifest ``files`` (all when None)."""
    ds = dataset if isinstance(dataset, Dataset) else Dataset(dataset)
    index = {row.file: i for i, row in enumerate(ds.rows)}
    wanted = list(files) if files is not None else [row.file for row in ds.rows]
    unknown = [f for f in wanted if f not in index]
    if unknown:
        raise DatasetError(f"{ds.folder}: {len(unknown)} recording(s) are not in the manifest, e.g. {unknown[0]}")
    class_of = {label: i for i, label in enumerate(labels)}
    X = np.zeros((len(wanted), spec.frames, spec.num_features), np.float32)
    y = np.zeros(len(wanted), np.int64)
    for k, f in enumerate(tqdm(wanted, desc="features", unit="rec", disable=not progress, leave=False)):
        rec = trim_to_sign(ds.load(index[f]))
        if rec.label not in class_of:
            raise DatasetError(f"{ds.folder / f}: label {rec.label!r} is not one of the model's classes")
        X[k] = spec.model_input(rec.hands)
        y[k] = class_of[rec.label]
    return X, y

"""Words a user enrolls on the device: a few example embeddings per word, kept in a small file beside the model.

Why: a user wants a word the model was never trained on. Retraining needs TensorFlow and a host; the
device has neither. A model that also outputs an L2-normalised embedding of a sign lets the device learn a
word from a few recordings instead (few-shot): their embeddings are stored as prototypes, and a new sign is
compared with each word's prototype by cosine similarity. Everything here is numpy and the standard library.

The file (``<model file>.prototypes.npz``, :func:`default_path`) is read with ``allow_pickle=False``, so
opening it can never run code. Embeddings only mean something to the model that made them, so the file
records that model's sha256 and embedding size: :meth:`PrototypeStore.load` refuses it for another model
rather than silently comparing vectors from two different embedding spaces.
"""

from __future__ import annotations

import json
import re
import shlex
import unicodedata
import zipfile
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from edge_runtime.errors import SignedgeError
from edge_runtime.files import atomic_path

__all__ = ["FORMAT", "MAX_WORD_LENGTH", "VERSION", "PrototypeError", "PrototypeStore", "default_path"]

FORMAT = "signedge-prototypes"
VERSION = 1
SUFFIX = ".prototypes.npz"
MAX_WORD_LENGTH = 64
KEYS = ("embeddings", "words", "signers", "meta")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_NORM_TOLERANCE = 1e-3  # a stored row is unit length up to float32 rounding; anything further was not written here
_MIN_MEAN_NORM = 1e-6  # examples that cancel out leave a prototype with no direction


class PrototypeError(SignedgeError, ValueError):
    """An enrolled word, its embeddings or the prototype file is not usable; explained in one line."""


def default_path(model_path: str | Path) -> Path:
    """The prototype file of a model: beside it, named after the whole file name (``m.tflite.prototypes.npz``)."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + SUFFIX)


def short(sha256: str) -> str:
    """The first 12 hex characters: enough to tell two models apart in a message."""
    return sha256[:12]


@dataclass(frozen=True, eq=False)
class PrototypeStore:
    """The enrolled examples of one model. Immutable: :meth:`add` and :meth:`remove` return a new store.

    Row ``i`` of ``embeddings`` (float32, unit length) is one example of ``words[i]`` recorded by ``signers[i]``
    (``""`` when unknown). A word's rows are stored together, in enrolment order.
    """

    model_sha256: str
    embedding_size: int
    trained_labels: tuple[str, ...]
    embeddings: np.ndarray = field(repr=False)
    words: np.ndarray
    signers: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        labels = self.trained_labels
        object.__setattr__(self, "trained_labels", tuple(labels) if isinstance(labels, (list, tuple)) else labels)
        problem = _fields_problem(self.model_sha256, self.embedding_size, self.trained_labels, self.embeddings,
                                  self.words, self.signers)
        if problem:
            raise PrototypeError(f"prototype store: {problem}")
        object.__setattr__(self, "embedding_size", int(self.embedding_size))
        for name in ("embeddings", "words", "signers"):  # read-only copies: nobody changes a store behind its back
            array = np.array(getattr(self, name), dtype=np.float32 if name == "embeddings" else str)
            array.setflags(write=False)
            object.__setattr__(self, name, array)

    def __repr__(self) -> str:
        return (f"PrototypeStore(model {short(self.model_sha256)}, embedding_size={self.embedding_size}, "
                f"{len(self.words_enrolled())} words, {len(self.words)} examples)")

    # -- construction and files ------------------------------------------------------------------------------

    @classmethod
    def empty(cls, model_sha256: str, embedding_size: int, trained_labels: Sequence[str]) -> PrototypeStore:
        """A store with no enrolled word, for a model with this hash, embedding size and trained labels."""
        return cls(model_sha256, embedding_size, tuple(trained_labels), np.zeros((0, _int_or_zero(embedding_size)),
                   np.float32), np.array([], dtype=str), np.array([], dtype=str))

    @classmethod
    def load(cls, path: str | Path, model_sha256: str | None = None,
             embedding_size: int | None = None) -> PrototypeStore:
        """Read a prototype file; with ``model_sha256`` / ``embedding_size``, refuse one made for another model."""
        path = Path(path)
        if not path.is_file():
            raise PrototypeError(f"{path}: prototype file not found")
        arrays = _read_npz(path)
        meta = _read_meta(path, arrays["meta"])
        fields = (meta["model_sha256"], meta["embedding_size"], tuple(meta["trained_labels"]),
                  arrays["embeddings"], arrays["words"], arrays["signers"])
        problem = _fields_problem(*fields)
        if problem:
            raise PrototypeError(f"{path}: malformed prototype file ({problem})")
        store = cls(*fields)
        if model_sha256 is not None and model_sha256 != store.model_sha256:
            raise PrototypeError(f"{path}: these prototypes were made for another model (file "
                                 f"{short(store.model_sha256)}, this model {short(model_sha256)}); "
                                 "enroll the words again for this model")
        if embedding_size is not None and embedding_size != store.embedding_size:
            raise PrototypeError(f"{path}: these prototypes were made for embedding size {store.embedding_size}, "
                                 f"this model's is {embedding_size}; enroll the words again for this model")
        return store

    def save(self, path: str | Path) -> None:
        """Write the file atomically: a failure leaves the previous file (or none), never half of one."""
        meta = {"format": FORMAT, "version": VERSION, "model_sha256": self.model_sha256,
                "embedding_size": self.embedding_size, "trained_labels": list(self.trained_labels)}
        arrays = {"embeddings": self.embeddings, "words": self.words, "signers": self.signers,
                  "meta": np.array(json.dumps(meta, ensure_ascii=False))}
        with atomic_path(path, suffix=".npz") as tmp:  # np.savez appends .npz to any other name
            np.savez(tmp, **arrays)

    # -- enrolment ---------------------------------------------------------------------------------------------

    def check_new_word(self, word: str, signer: str = "", overwrite: bool = False) -> str:
        """``word`` as it would be stored (stripped, one Unicode form), or a PrototypeError saying why it cannot be
        enrolled. :meth:`add` runs it; a caller runs it first to refuse a word before anyone signs an example."""
        word = _clean(word)
        problem = _word_problem(word, self.trained_labels)
        if problem:
            raise PrototypeError(problem)
        enrolled = self.words_enrolled()
        if word in enrolled and not overwrite:
            n = enrolled[word]
            raise PrototypeError(f"word {word!r} is already enrolled ({n} example{'s' if n != 1 else ''}); "
                                 f"--force to replace it, or remove it with --remove {shlex.quote(word)}")
        problem = _signer_problem(_clean(signer))
        if problem:
            raise PrototypeError(f"word {word!r}: {problem}")
        return word

    def add(self, word: str, embeddings: Any, signer: str = "", overwrite: bool = False) -> PrototypeStore:
        """A new store with ``word`` enrolled from ``embeddings`` [k, D] (rows are L2-normalised here).

        ``overwrite``: an enrolled ``word`` gets these examples instead of its old ones (else it is refused).
        """
        word = self.check_new_word(word, signer, overwrite)
        signer = _clean(signer)
        rows = _unit_rows(embeddings, self.embedding_size, f"word {word!r}")
        if np.linalg.norm(rows.mean(axis=0)) < _MIN_MEAN_NORM:
            raise PrototypeError(f"word {word!r}: the examples cancel out (their mean has no direction); "
                                 "record them again")
        keep = self.words != word  # all rows, unless an enrolled word is being replaced
        return replace(self, embeddings=np.concatenate([self.embeddings[keep], rows.astype(np.float32)]),
                       words=np.concatenate([self.words[keep], np.array([word] * len(rows))]),
                       signers=np.concatenate([self.signers[keep], np.array([signer] * len(rows))]))

    def remove(self, word: str) -> PrototypeStore:
        """A new store without ``word``'s examples."""
        word = _clean(word)
        enrolled = self.words_enrolled()
        if word not in enrolled:
            if word in {_clean(label) for label in self.trained_labels}:
                raise PrototypeError(f"{word!r} is a trained sign of the model, not an enrolled word; "
                                     "only enrolled words can be removed")
            known = ", ".join(repr(w) for w in enrolled) or "none"
            raise PrototypeError(f"word {word!r} is not enrolled (enrolled words: {known})")
        keep = self.words != word
        return replace(self, embeddings=self.embeddings[keep], words=self.words[keep], signers=self.signers[keep])

    def words_enrolled(self) -> dict[str, int]:
        """Each enrolled word and its number of examples, in enrolment order."""
        counts: dict[str, int] = {}
        for word in self.words.tolist():
            counts[word] = counts.get(word, 0) + 1
        return counts

    # -- recognition -------------------------------------------------------------------------------------------

    def prototypes(self) -> tuple[list[str], np.ndarray]:
        """The enrolled words and one prototype each: the normalised mean of its examples, [W, D] float32."""
        words, means = self._prototypes
        return list(words), means.copy()

    @cached_property
    def _prototypes(self) -> tuple[tuple[str, ...], np.ndarray]:
        words = tuple(self.words_enrolled())
        means = np.zeros((len(words), self.embedding_size), np.float64)
        for i, word in enumerate(words):
            means[i] = self.embeddings[self.words == word].mean(axis=0, dtype=np.float64)
        means /= np.linalg.norm(means, axis=1, keepdims=True).clip(min=_MIN_MEAN_NORM)
        means = means.astype(np.float32)
        means.setflags(write=False)
        return words, means

    def similarities(self, embeddings: Any) -> np.ndarray:
        """Cosine similarity of each embedding [n, D] with each prototype: [n, W], in :meth:`prototypes` order."""
        rows = _unit_rows(embeddings, self.embedding_size, "embeddings", allow_empty=True)
        return rows.astype(np.float32) @ self._prototypes[1].T

    def match(self, embedding: Any) -> tuple[str | None, float]:
        """The enrolled word nearest to ``embedding`` [D] and its cosine similarity; ``(None, -1.0)`` if none."""
        vector = np.asarray(embedding)
        if vector.ndim != 1:
            raise PrototypeError(f"embedding has shape {vector.shape}, expected one vector of shape "
                                 f"({self.embedding_size},)")
        words = self._prototypes[0]
        sims = self.similarities(vector[None])[0]
        if not words:
            return None, -1.0
        best = int(np.argmax(sims))
        return words[best], float(sims[best])


# -- validation ------------------------------------------------------------------------------------------------

def _clean(text: Any) -> Any:
    """Strip surrounding spaces and use one Unicode form, so 'word' typed twice (e.g. Hangul) is one word."""
    return unicodedata.normalize("NFC", text.strip()) if isinstance(text, str) else text


def _bad_character(text: str) -> str | None:
    for char in text:
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):  # \n, \r, \t, other control codes, line separators
            return {"\n": "a newline", "\r": "a carriage return"}.get(char, f"the control character U+{ord(char):04X}")
    return None


def _word_problem(word: Any, trained_labels: Sequence[str]) -> str | None:
    """Why ``word`` (already cleaned) cannot be an enrolled word, or None."""
    if not isinstance(word, str):
        return f"a word must be text, not {type(word).__name__}"
    if not word:
        return "the word to enroll is empty (or only spaces)"
    bad = _bad_character(word)
    if bad:
        return f"word {word!r} contains {bad}"
    if "," in word:
        return f"word {word!r} contains a comma (lists of words are comma-separated)"
    if len(word) > MAX_WORD_LENGTH:
        return f"word {word[:20] + '...'!r} is {len(word)} characters long, at most {MAX_WORD_LENGTH} are allowed"
    if word in {_clean(label) for label in trained_labels}:
        return f"word {word!r} is already a trained sign of this model; enroll only new words"
    return None


def _signer_problem(signer: Any) -> str | None:
    if not isinstance(signer, str):
        return f"the signer must be text, not {type(signer).__name__}"
    bad = _bad_character(signer)
    if bad:
        return f"signer {signer!r} contains {bad}"
    if len(signer) > MAX_WORD_LENGTH:
        return f"the signer name is {len(signer)} characters long, at most {MAX_WORD_LENGTH} are allowed"
    return None


def _unit_rows(embeddings: Any, size: int, what: str, allow_empty: bool = False) -> np.ndarray:
    """``embeddings`` as float64 [k, size] rows of unit length, or a PrototypeError saying what is wrong."""
    try:
        array = np.asarray(embeddings, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise PrototypeError(f"{what}: embeddings are not numbers ({err})") from None
    if array.ndim != 2:
        hint = " (one example? pass it as [1, D])" if array.ndim == 1 else ""
        raise PrototypeError(f"{what}: embeddings have shape {array.shape}, expected [examples, {size}]{hint}")
    if array.shape[1] != size:
        raise PrototypeError(f"{what}: embeddings have size {array.shape[1]}, this model's is {size}")
    if not allow_empty and array.shape[0] == 0:
        raise PrototypeError(f"{what}: no embeddings (need at least one example)")
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        raise PrototypeError(f"{what}: embedding {int(np.argmin(finite))} has a NaN or infinite value")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    if (norms == 0).any():
        raise PrototypeError(f"{what}: embedding {int(np.argmin(norms[:, 0]))} is all zeros (it has no direction)")
    return array / norms


def _int_or_zero(value: Any) -> int:
    """``value`` if it is a positive whole number (Python or numpy), else 0."""
    whole = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    return int(value) if whole and value > 0 else 0


def _fields_problem(model_sha256: Any, embedding_size: Any, trained_labels: Any, embeddings: Any, words: Any,
                    signers: Any) -> str | None:
    """The first thing wrong with a store's fields (from a caller or a file), or None."""
    if not isinstance(model_sha256, str) or not _SHA256.fullmatch(model_sha256):
        return f"model_sha256 {model_sha256!r} is not a sha256 (64 lowercase hex characters)"
    size = _int_or_zero(embedding_size)
    if size == 0:
        return f"embedding_size {embedding_size!r} is not a positive whole number"
    if not isinstance(trained_labels, tuple) or not all(isinstance(label, str) for label in trained_labels):
        return "trained_labels are not a list of text labels"
    embeddings, words, signers = (np.asarray(a) for a in (embeddings, words, signers))
    if embeddings.dtype.kind != "f" or embeddings.ndim != 2 or embeddings.shape[1] != size:
        return f"embeddings are {embeddings.dtype} {embeddings.shape}, expected float [n, {size}]"
    n = len(embeddings)
    for name, array in (("words", words), ("signers", signers)):
        if array.dtype.kind != "U" and array.size:
            return f"{name} are {array.dtype}, expected text"
        if array.shape != (n,):
            return f"{name} have shape {array.shape}, expected ({n},): one per embedding"
    if not np.isfinite(embeddings).all():
        return "embeddings contain NaN or infinite values"
    if n and np.abs(np.linalg.norm(embeddings.astype(np.float64), axis=1) - 1).max() > _NORM_TOLERANCE:
        return "embeddings are not unit length"
    for word in dict.fromkeys(words.tolist()):
        problem = _word_problem(word, trained_labels)
        if problem or _clean(word) != word:
            return problem or f"word {word!r} has surrounding spaces or is not in Unicode NFC form"
        if np.linalg.norm(embeddings[words == word].mean(axis=0, dtype=np.float64)) < _MIN_MEAN_NORM:
            return f"the examples of word {word!r} cancel out (their mean has no direction)"
    for signer in dict.fromkeys(signers.tolist()):
        problem = _signer_problem(signer)
        if problem:
            return problem
    return None


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The four arrays of a prototype file, read without pickle; anything unreadable is one PrototypeError."""
    if not zipfile.is_zipfile(path):  # checked first: np.load would try to unpickle any other file
        raise PrototypeError(f"{path}: not a prototype file (not an .npz archive; truncated or another kind of file)")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in KEYS if k not in data.files]
            if missing:
                raise PrototypeError(f"{path}: not a signedge prototype file (missing {', '.join(missing)})")
            return {k: data[k] for k in KEYS}
    except PrototypeError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as err:
        if "allow_pickle" in str(err):
            reason = "it holds Python objects that only pickle can read; prototype files never use pickle"
        else:
            reason = f"{type(err).__name__}: {err}"
        raise PrototypeError(f"{path}: cannot read prototype file ({reason})".replace("\n", " ")) from None


def _read_meta(path: Path, meta: np.ndarray) -> dict[str, Any]:
    """The file's JSON description, checked for format and version."""
    if meta.ndim != 0 or meta.dtype.kind != "U":
        raise PrototypeError(f"{path}: malformed prototype file (meta is not one JSON text)")
    try:
        data = json.loads(str(meta))
    except json.JSONDecodeError as err:
        raise PrototypeError(f"{path}: malformed prototype file (meta is not JSON: {err})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise PrototypeError(f"{path}: not a signedge prototype file (format {found!r}, expected {FORMAT!r})")
    if data.get("version") != VERSION:
        raise PrototypeError(f"{path}: prototype file version {data.get('version')!r}; this signedge reads version "
                             f"{VERSION}")
    missing = [k for k in ("model_sha256", "embedding_size", "trained_labels") if k not in data]
    if missing:
        raise PrototypeError(f"{path}: malformed prototype file (meta lacks {', '.join(missing)})")
    if not isinstance(data["trained_labels"], list):
        raise PrototypeError(f"{path}: malformed prototype file (trained_labels is not a list)")
    return data

"""Enrolling new words on the device: a few example embeddings per word, in a file tied to one model."""

from __future__ import annotations

import hashlib
import json
import pathlib
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from edge_runtime.errors import SignedgeError
from edge_runtime.prototypes import PrototypeError, PrototypeStore, default_path

MODEL = hashlib.sha256(b"model a").hexdigest()
OTHER = hashlib.sha256(b"model b").hexdigest()
D = 8
TRAINED = ("hello", "thanks", "형,오빠")  # a trained label may hold a comma; an enrolled word may not


def examples(direction: int, k: int = 3, seed: int = 0, scale: float = 5.0) -> np.ndarray:
    """``k`` unnormalised embeddings near the ``direction``-th axis, as a model would give for one word."""
    rng = np.random.default_rng(seed)
    return scale * (np.eye(D)[direction] + 0.1 * rng.standard_normal((k, D)))


def store_with(*words: str) -> PrototypeStore:
    store = PrototypeStore.empty(MODEL, D, TRAINED)
    for i, word in enumerate(words):
        store = store.add(word, examples(i, seed=i))
    return store


def message(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text and "\r" not in text, text
    return text


def test_the_file_sits_beside_the_model_and_keeps_every_example_through_save_and_load(tmp_path):
    model = tmp_path / "words.int8.tflite"
    path = default_path(model)
    assert path == tmp_path / "words.int8.tflite.prototypes.npz"
    store = PrototypeStore.empty(MODEL, D, TRAINED).add("coffee", examples(0), signer="ana")
    store = store.add("tea", examples(1, k=2))
    store.save(path)

    again = PrototypeStore.load(path, model_sha256=MODEL, embedding_size=D)
    assert (again.model_sha256, again.embedding_size, again.trained_labels) == (MODEL, D, TRAINED)
    assert again.words_enrolled() == {"coffee": 3, "tea": 2}
    assert again.signers.tolist() == ["ana"] * 3 + [""] * 2
    np.testing.assert_array_equal(again.embeddings, store.embeddings)
    assert again.embeddings.dtype == np.float32

    with np.load(path, allow_pickle=False) as raw:  # the documented layout, readable without pickle
        assert sorted(raw.files) == ["embeddings", "meta", "signers", "words"]
        assert json.loads(str(raw["meta"])) == {"format": "signedge-prototypes", "version": 1, "model_sha256": MODEL,
                                                 "embedding_size": D, "trained_labels": list(TRAINED)}


def test_an_empty_store_saves_and_loads(tmp_path):
    PrototypeStore.empty(MODEL, D, TRAINED).save(tmp_path / "p.npz")
    again = PrototypeStore.load(tmp_path / "p.npz")
    assert again.words_enrolled() == {} and again.embeddings.shape == (0, D)
    assert again.match(np.ones(D)) == (None, -1.0)


def test_add_normalises_the_examples_and_leaves_the_old_store_alone():
    before = PrototypeStore.empty(MODEL, D, TRAINED)
    raw = examples(2, k=4)
    after = before.add("  water ", raw, signer="bo")
    assert before.words_enrolled() == {} and after.words_enrolled() == {"water": 4}  # surrounding spaces dropped
    np.testing.assert_allclose(np.linalg.norm(after.embeddings, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(after.embeddings, raw / np.linalg.norm(raw, axis=1, keepdims=True), rtol=1e-6)
    with pytest.raises(ValueError):
        after.embeddings[0, 0] = 9.0  # read-only: a store cannot be changed behind its back


@pytest.mark.parametrize("word, expected", [
    ("coffee", r"word 'coffee' is already enrolled \(3 examples\); --force to replace it, or remove it with "
               "--remove coffee"),
    ("hello", "word 'hello' is already a trained sign of this model"),
    (" thanks", "word 'thanks' is already a trained sign"),
    ("milk,sugar", "word 'milk,sugar' contains a comma"),
    ("milk\nsugar", r"word 'milk\\nsugar' contains a newline"),
    ("milk\rsugar", r"contains a carriage return"),
    ("milk\x1bsugar", "contains the control character U\\+001B"),
    ("", "the word to enroll is empty"),
    ("   ", "the word to enroll is empty"),
    ("x" * 65, "is 65 characters long, at most 64 are allowed"),
])
def test_add_refuses_a_word_that_is_taken_empty_too_long_or_would_break_a_list_or_line(word, expected):
    store = store_with("coffee")
    with pytest.raises(PrototypeError, match=expected) as err:
        store.add(word, examples(3))
    message(err)
    assert store.add("x" * 64, examples(3)).words_enrolled()["x" * 64] == 3  # 64 characters are fine


def test_overwrite_replaces_an_enrolled_word_and_check_new_word_refuses_before_any_example():
    store = store_with("coffee", "tea")
    with pytest.raises(PrototypeError, match="already enrolled"):
        store.check_new_word(" coffee")
    with pytest.raises(PrototypeError, match=r"signer 'a\\nb' contains a newline"):
        store.check_new_word("milk", signer="a\nb")
    assert store.check_new_word(" coffee ", overwrite=True) == "coffee"  # as it is stored
    again = store.add("coffee", examples(2, k=2, seed=7), signer="bo", overwrite=True)
    assert again.words_enrolled() == {"tea": 3, "coffee": 2}  # the old three examples are gone, tea kept
    assert again.signers[again.words == "coffee"].tolist() == ["bo", "bo"]
    np.testing.assert_array_equal(again.embeddings[again.words == "tea"], store.embeddings[store.words == "tea"])
    words, protos = again.prototypes()
    assert words == ["tea", "coffee"] and int(np.argmax(protos[1])) == 2
    assert store.add("milk", examples(3), overwrite=True).words_enrolled() == {"coffee": 3, "tea": 3, "milk": 3}
    with pytest.raises(PrototypeError, match="already a trained sign"):
        store.add("hello", examples(3), overwrite=True)  # overwriting never reaches a trained label


def test_a_word_typed_in_another_unicode_form_is_the_same_word():
    composed = "오빠"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    store = store_with(composed)
    with pytest.raises(PrototypeError, match="already enrolled"):
        store.add(decomposed, examples(1))
    assert store.remove(decomposed).words_enrolled() == {}


@pytest.mark.parametrize("embeddings, expected", [
    (np.ones((2, D + 1)), f"embeddings have size {D + 1}, this model's is {D}"),
    (np.ones(D), r"shape \(8,\), expected \[examples, 8\] \(one example\? pass it as \[1, D\]\)"),
    (np.ones((1, 2, D)), r"shape \(1, 2, 8\)"),
    (np.zeros((0, D)), "no embeddings"),
    (np.vstack([np.ones(D), np.r_[np.nan, np.ones(D - 1)]]), "embedding 1 has a NaN or infinite value"),
    (np.full((1, D), np.inf), "embedding 0 has a NaN or infinite value"),
    (np.vstack([np.ones(D), np.zeros(D)]), "embedding 1 is all zeros"),
    (np.vstack([np.eye(D)[0], -np.eye(D)[0]]), "the examples cancel out"),
    ([["a"] * D], "embeddings are not numbers"),
])
def test_add_refuses_embeddings_that_are_not_k_directions_of_the_model_size(embeddings, expected):
    store = store_with("coffee")
    with pytest.raises(PrototypeError, match=expected) as err:
        store.add("tea", embeddings)
    assert message(err).startswith("word 'tea': ")
    assert store.words_enrolled() == {"coffee": 3}


def test_a_store_needs_a_real_model_hash_and_embedding_size():
    with pytest.raises(PrototypeError, match="'model.tflite' is not a sha256"):
        PrototypeStore.empty("model.tflite", D, TRAINED)
    for size in (0, -3, 2.5, True):
        with pytest.raises(PrototypeError, match="embedding_size .* is not a positive whole number"):
            PrototypeStore.empty(MODEL, size, TRAINED)
    assert PrototypeStore.empty(MODEL, np.int64(D), TRAINED).embedding_size == D


def test_load_refuses_prototypes_made_for_another_model_or_embedding_size(tmp_path):
    path = tmp_path / "m.tflite.prototypes.npz"
    store_with("coffee").save(path)
    with pytest.raises(PrototypeError, match="made for another model") as err:
        PrototypeStore.load(path, model_sha256=OTHER)
    assert MODEL[:12] in message(err) and OTHER[:12] in message(err) and str(path) in message(err)
    with pytest.raises(PrototypeError, match=f"made for embedding size {D}, this model's is 64") as err:
        PrototypeStore.load(path, model_sha256=MODEL, embedding_size=64)
    assert PrototypeStore.load(path, model_sha256=MODEL, embedding_size=D).words_enrolled() == {"coffee": 3}


def saved_arrays(**change) -> dict:
    """The arrays of a good two-word file, with some replaced (None removes one; ``meta`` updates its JSON)."""
    store = store_with("coffee", "tea")
    meta = {"format": "signedge-prototypes", "version": 1, "model_sha256": MODEL, "embedding_size": D,
            "trained_labels": list(TRAINED)}
    meta.update(change.pop("meta", {}))
    arrays = {"embeddings": store.embeddings, "words": store.words, "signers": store.signers,
              "meta": np.array(change.pop("meta_text", json.dumps(meta)))}
    arrays.update(change)
    return {k: v for k, v in arrays.items() if v is not None}


class Trap:
    """An object whose unpickling touches a file: proof that loading never unpickles."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return pathlib.Path.touch, (self.path,)


def write_bad(kind: str, path: Path) -> None:
    if kind == "truncated":
        store_with("coffee").save(path)
        path.write_bytes(path.read_bytes()[:300])
    elif kind == "text":
        path.write_text("coffee,tea\n")
    elif kind == "npy":
        with open(path, "wb") as fh:
            np.save(fh, np.ones((3, D), np.float32))
    elif kind == "pickle":
        np.savez(path, **saved_arrays(words=np.array([Trap(path.parent / "unpickled")] * 6, dtype=object)))
    else:
        np.savez(path, **saved_arrays(**BAD_ARRAYS[kind]))


BAD_ARRAYS = {
    "no signers": {"signers": None},
    "wrong format": {"meta": {"format": "signedge-recording"}},
    "newer version": {"meta": {"version": 2}},
    "meta not json": {"meta_text": "{format"},
    "short words": {"words": np.array(["coffee"] * 3)},
    "embeddings of another size": {"embeddings": np.ones((6, 4), np.float32) / 2},
    "nan": {"embeddings": np.full((6, D), np.nan, np.float32)},
    "not normalised": {"embeddings": np.ones((6, D), np.float32)},
    "trained word": {"words": np.array(["hello"] * 6)},
}


@pytest.mark.parametrize("kind, expected", [
    ("truncated", "not a prototype file .not an .npz archive"),
    ("text", "not a prototype file .not an .npz archive"),
    ("npy", "not a prototype file .not an .npz archive"),
    ("pickle", "holds Python objects that only pickle can read"),
    ("no signers", r"not a signedge prototype file \(missing signers\)"),
    ("wrong format", "format 'signedge-recording', expected 'signedge-prototypes'"),
    ("newer version", "prototype file version 2; this signedge reads version 1"),
    ("meta not json", "meta is not JSON"),
    ("short words", r"words have shape \(3,\), expected \(6,\): one per embedding"),
    ("embeddings of another size", r"expected float \[n, 8\]"),
    ("nan", "embeddings contain NaN or infinite values"),
    ("not normalised", "embeddings are not unit length"),
    ("trained word", "word 'hello' is already a trained sign"),
])
def test_load_explains_a_truncated_foreign_or_inconsistent_file_in_one_line(tmp_path, kind, expected):
    path = tmp_path / "m.tflite.prototypes.npz"
    write_bad(kind, path)
    with pytest.raises(PrototypeError, match=expected) as err:
        PrototypeStore.load(path)
    assert message(err).startswith(f"{path}: ")
    assert not (tmp_path / "unpickled").exists()


def test_a_missing_file_is_one_clear_error_of_the_signedge_family(tmp_path):
    with pytest.raises(SignedgeError, match="prototype file not found") as err:
        PrototypeStore.load(tmp_path / "nothing.npz")
    assert isinstance(err.value, PrototypeError) and isinstance(err.value, ValueError)


def test_a_failed_save_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "m.tflite.prototypes.npz"
    store_with("coffee").save(path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def half_then_fail(file, **arrays):
        Path(file).write_bytes(b"PK\x03\x04 half an archive")
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez", half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        store_with("coffee", "tea").save(path)
    with pytest.raises(OSError, match="No space left"):
        store_with("coffee").save(tmp_path / "new.prototypes.npz")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temp file, no new file, old one kept
    monkeypatch.undo()
    assert PrototypeStore.load(path).words_enrolled() == {"coffee": 3}


def test_match_finds_the_nearest_prototype_and_its_cosine_similarity():
    store = store_with("coffee", "tea", "water")
    words, protos = store.prototypes()
    assert words == ["coffee", "tea", "water"] and protos.shape == (3, D)
    np.testing.assert_allclose(np.linalg.norm(protos, axis=1), 1.0, rtol=1e-6)
    mean = store.embeddings[store.words == "tea"].mean(axis=0)
    np.testing.assert_allclose(protos[1], mean / np.linalg.norm(mean), rtol=1e-5)

    sign = 7.0 * (np.eye(D)[1] + 0.3 * np.eye(D)[2])  # mostly tea, a little water, any length
    word, similarity = store.match(sign)
    assert word == "tea"
    assert similarity == pytest.approx(float(protos[1] @ sign / np.linalg.norm(sign)), abs=1e-6)
    sims = store.similarities(np.stack([sign, np.eye(D)[2], np.eye(D)[0]]))
    assert sims.shape == (3, 3) and sims.argmax(axis=1).tolist() == [1, 2, 0]
    assert sims[0, 1] == pytest.approx(similarity, abs=1e-6)
    assert store.match(np.eye(D)[5])[1] < 0.2  # a sign like none of them: every similarity is low

    assert PrototypeStore.empty(MODEL, D, TRAINED).match(sign) == (None, -1.0)
    with pytest.raises(PrototypeError, match=r"embedding has shape \(1, 8\), expected one vector of shape \(8,\)"):
        store.match(sign[None])
    with pytest.raises(PrototypeError, match="embeddings have size 4, this model's is 8"):
        store.match(np.ones(4))


def test_remove_forgets_a_word_and_names_the_enrolled_ones_when_the_word_is_unknown():
    store = store_with("coffee", "tea", "water")
    fewer = store.remove("tea")
    assert fewer.words_enrolled() == {"coffee": 3, "water": 3}
    assert fewer.prototypes()[0] == ["coffee", "water"] and fewer.match(np.eye(D)[1])[0] != "tea"
    assert store.words_enrolled() == {"coffee": 3, "tea": 3, "water": 3}
    assert fewer.add("tea", examples(1, k=1)).words_enrolled() == {"coffee": 3, "water": 3, "tea": 1}
    with pytest.raises(PrototypeError, match=r"word 'juice' is not enrolled \(enrolled words: 'coffee', 'water'\)"):
        fewer.remove("juice")
    with pytest.raises(PrototypeError, match="'hello' is a trained sign of the model, not an enrolled word"):
        fewer.remove("hello")


def test_prototypes_module_imports_without_tensorflow():
    code = ("import sys, edge_runtime.prototypes; "
            "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr

"""sign-enroll as a user runs it: a model that never saw a word learns it from five recordings, sign-recognize then
recognises it; --list, --force, --remove; every bad input is one line, exit 2, and no prototype file written.

The world (built once per session): a synthetic dataset of seven words; a cosine-head model trained and exported
(int8) on five of them. Two words are left out: ``NEW``, unlike any trained sign, and ``TWIN``, which the
generator makes differ from the trained ``TWIN_OF`` by one handshape only (``train.synth.signs``: consecutive
words form confusable pairs), so enrolling it must come with a warning.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from helpers import exit_code
from test_recognizer import Demo, demo  # noqa: F401  (the session fixture: a tiny model without an embedding)

from edge_runtime.classifier import load_classifier
from edge_runtime.cli import inputs
from edge_runtime.cli.enroll import main
from edge_runtime.cli.recognize import main as recognize
from edge_runtime.dataset import Recording, load_recording, read_manifest, save_recording, write_manifest
from edge_runtime.files import sha256_file
from edge_runtime.landmarks import HandFrame
from edge_runtime.model_info import sidecar_path
from edge_runtime.prototypes import PrototypeStore, default_path
from edge_runtime.recognizer import Recognizer
from edge_runtime.replay import RecordingReplay
from edge_runtime.sources import parse_source

pytest.importorskip("keras")

REPO = Path(__file__).resolve().parents[1]
WORDS = ("무한", "미국", "수학", "월세", "일요일", "커피", "우유")
NEW, TWIN, TWIN_OF = "우유", "수학", "월세"
SIGNERS = 6
TAKES = 5  # per signer and word
# Enough training for an embedding worth enrolling into: after 2 epochs every sign has nearly the same embedding
# and an enrolled word takes them all.
TRAIN = ["--epochs", "80", "--patience", "80", "--min-epochs", "5", "-q"]

pytestmark = pytest.mark.slow


@dataclass
class World:
    model: Path  # the exported int8 model (copy it before enrolling: the words are kept beside it)
    takes: dict[str, dict[str, list[Path]]]  # word -> signer -> recordings, in take order
    trained: list[str]

    def of(self, word: str, signer: int) -> list[str]:
        return [str(p) for p in self.takes[word][f"synth-{signer:02d}"]]


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    from export.cli.tflite import main as export
    from train.cli.train import main as train
    from train.synth.config import SynthConfig
    from train.synth.writer import make_dataset

    root = tmp_path_factory.mktemp("enroll")
    everything, known = root / "all", root / "known"
    rows = make_dataset(everything, SynthConfig(words=WORDS, signers=SIGNERS, per_word=SIGNERS * TAKES,
                                                frames_min=40, frames_max=70))
    shutil.copytree(everything, known)
    write_manifest(known, [r for r in read_manifest(known) if r.label not in (NEW, TWIN)])  # never trained on
    assert exit_code(train, [str(known), "-o", str(root / "run"), *TRAIN]) == 0
    assert exit_code(export, [str(root / "run"), "--formats", "int8", "--calibration", "16"]) == 0
    takes: dict[str, dict[str, list[Path]]] = {}
    for row in sorted(rows, key=lambda r: r.file):
        takes.setdefault(row.label, {}).setdefault(row.signer, []).append(everything / row.file)
    trained = sorted(set(WORDS) - {NEW, TWIN})
    return World(root / "run" / "export" / "model_int8.tflite", takes, trained)


@pytest.fixture
def model(world: World, tmp_path: Path) -> Path:
    """A copy of the model in a folder of its own (the same file, so the same sha256), with no word enrolled."""
    copy = tmp_path / "device" / world.model.name
    copy.parent.mkdir()
    shutil.copy(world.model, copy)
    return copy


def sign_enroll(capsys: pytest.CaptureFixture, *args: str | Path) -> tuple[int, str, str]:
    code = exit_code(main, [str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def enrolled(model: Path) -> dict[str, int]:
    clf = load_classifier(model, enrolled=False)
    return PrototypeStore.load(default_path(model), sha256_file(model), clf.openset.dim).words_enrolled()


def test_a_user_teaches_the_device_a_word_and_sign_recognize_knows_it(world: World, model: Path, capsys):
    code, out, err = sign_enroll(capsys, "--model", model, "--word", NEW, "--samples", "5", "--signer", "ana",
                                 "--source", *world.of(NEW, 1))
    assert code == 0, err
    store = default_path(model)
    assert store.name == f"{model.name}.prototypes.npz" and store.is_file()
    assert sorted(p.name for p in store.parent.iterdir()) == [model.name, store.name]  # no temporary left over
    summary, similarity = out.splitlines()
    assert summary == f"enrolled '{NEW}' from 5 example(s) by ana into {store} (1 word(s) enrolled)"
    assert similarity.startswith("similarity: the 5 examples' mean similarity to each other is ")
    assert "to the nearest trained word '" in similarity and "the model accepts a sign from" in similarity
    progress = [line for line in err.splitlines() if line.startswith("sign-enroll: example ")]
    assert [line.split(": ", 2)[1] for line in progress] == [f"example {k} of 5" for k in range(1, 6)]
    assert all(Path(path).name in line for path, line in zip(world.of(NEW, 1), progress))  # one per recording
    assert "warning" not in err
    assert enrolled(model) == {NEW: 5}

    # sign-recognize now knows the word, from a signer who did not enroll it
    other = world.of(NEW, 2)[0]
    assert exit_code(recognize, ["--model", str(model), "--source", other, "--json"]) == 0
    out, err = capsys.readouterr()
    [event] = [json.loads(line) for line in out.splitlines()]
    assert event["label"] == event["true_label"] == NEW and event["known"] is True
    assert "(6 labels," in err  # five trained, one enrolled

    # and so does the Recognizer API: for most takes of the four other signers the new word is the nearest one
    # (reported, or "unknown" with it as the best guess: the model's threshold, chosen for its trained words,
    # also applies to a word enrolled from one signer, and other signers' takes fall below it more often)
    clf = load_classifier(model)
    assert clf.labels == world.trained + [NEW]
    events = [list(Recognizer(RecordingReplay(path), None, clf))
              for signer in range(3, SIGNERS + 1) for path in world.of(NEW, signer)]
    nearest = sum(any(e.top3[0][0] == NEW for e in found) for found in events)
    named = sum(any(e.label == NEW for e in found) for found in events)
    assert nearest >= 0.75 * len(events) and named >= 1, [[(e.label, e.top3[0][0]) for e in f] for f in events]

    # what the device has learned
    code, out, err = sign_enroll(capsys, "--model", model, "--list")
    assert code == 0 and err == ""
    assert str(store) in out and NEW in out and "ana" in out and " 5 " in out


def test_sources_are_read_in_order_until_enough_examples(world: World, model: Path, capsys):
    first, second, third = world.of(NEW, 1)[:3]
    code, out, err = sign_enroll(capsys, "--model", model, "--word", NEW, "--samples", "2",
                                 "--source", first, "--source", second, third)
    assert code == 0, err
    assert first in err and second in err and third not in err  # the third was not needed, so not opened
    assert enrolled(model) == {NEW: 2}


def test_a_word_on_top_of_a_trained_one_is_enrolled_with_a_warning(world: World, model: Path, capsys):
    code, out, err = sign_enroll(capsys, "--model", model, "--word", TWIN, "--samples", "3",
                                 "--source", *world.of(TWIN, 1)[:3])
    assert code == 0, err
    assert f"to the nearest trained word '{TWIN_OF}'" in out
    [warning] = [line for line in err.splitlines() if "warning" in line]
    assert warning.startswith(f"sign-enroll: warning: the model already takes these examples for '{TWIN_OF}' ")
    assert f"'{TWIN}' and '{TWIN_OF}' will be confused" in warning
    assert enrolled(model) == {TWIN: 3}  # a warning, not a refusal: the user decides


def test_force_replaces_a_word_and_remove_forgets_it(world: World, model: Path, capsys):
    takes = world.of(NEW, 1)
    assert sign_enroll(capsys, "--model", model, "--word", NEW, "--samples", "2", "--source", *takes[:2])[0] == 0
    assert sign_enroll(capsys, "--model", model, "--word", TWIN, "--samples", "1", "--signer", "bo",
                       "--source", world.of(TWIN, 2)[0])[0] == 0
    before = default_path(model).read_bytes()

    code, out, err = sign_enroll(capsys, "--model", model, "--word", NEW, "--samples", "3", "--source", *takes[2:])
    assert code == 2 and out == ""
    assert err == (f"sign-enroll: error: word '{NEW}' is already enrolled (2 examples); --force to replace it, "
                   f"or remove it with --remove '{NEW}'\n")
    assert default_path(model).read_bytes() == before

    code, out, err = sign_enroll(capsys, "--model", model, "--word", f" {NEW} ", "--samples", "3", "--force",
                                 "--source", *takes[2:])
    assert code == 0, err
    assert "(its old examples replaced)" in out and "(2 word(s) enrolled)" in out
    assert "to the nearest enrolled word" in out  # the other enrolled word, not the old examples of this one
    assert enrolled(model) == {TWIN: 1, NEW: 3}

    code, out, err = sign_enroll(capsys, "--model", model, "--remove", NEW)
    assert code == 0 and out == f"removed '{NEW}' (3 example(s)) from {default_path(model)} (1 word(s) enrolled)\n"
    assert enrolled(model) == {TWIN: 1}
    code, out, err = sign_enroll(capsys, "--model", model, "--list")
    assert TWIN in out and "bo" in out and NEW not in out

    after_remove = default_path(model).read_bytes()
    for word, message in ((NEW, f"word '{NEW}' is not enrolled (enrolled words: '{TWIN}')"),
                          (TWIN_OF, f"'{TWIN_OF}' is a trained sign of the model, not an enrolled word; only "
                                    "enrolled words can be removed")):
        code, out, err = sign_enroll(capsys, "--model", model, "--remove", word)
        assert (code, out, err) == (2, "", f"sign-enroll: error: {message}\n")
        assert default_path(model).read_bytes() == after_remove

    assert sign_enroll(capsys, "--model", model, "--remove", TWIN)[0] == 0
    code, out, err = sign_enroll(capsys, "--model", model, "--list")
    assert code == 0 and out == f"no words enrolled for this model (they would be kept in {default_path(model)})\n"


def test_a_recording_in_which_no_sign_is_cut_is_one_example_as_a_whole(world: World, model: Path, tmp_path, capsys):
    take = load_recording(world.of(NEW, 1)[0])
    held = int(np.flatnonzero(take.present.any(axis=1))[0])  # the first frame with a hand, held still: no sign cut
    n = 40
    still = Recording(np.repeat(take.landmarks[held:held + 1], n, axis=0), np.repeat(take.present[held:held + 1], n, 0),
                      NEW, take.fps, "still", aspect=take.aspect)
    save_recording(tmp_path / "still.npz", still)
    code, out, err = sign_enroll(capsys, "--model", model, "--word", NEW, "--samples", "1",
                                 "--source", tmp_path / "still.npz")
    assert code == 0, err
    assert f"example 1 of 1: {tmp_path / 'still.npz'}, the whole recording ({n} frames)" in err
    assert enrolled(model) == {NEW: 1}
    assert "one example, so no similarity between examples" in out


class EndlessCamera:
    """A 'camera' that shows the same signer signing the word again and again, and counts the frames read."""

    def __init__(self, takes: list[Recording]) -> None:
        self.takes, self.frames = takes, 0
        self.aspect = takes[0].aspect

    def __iter__(self):
        t = 0.0
        for take in itertools.cycle(self.takes):
            for i in range(take.num_frames):
                self.frames += 1
                yield t, HandFrame(take.landmarks[i], take.present[i], take.score[i])
                t += 1.0 / take.fps


def test_a_camera_prompts_before_each_example_and_stops_after_the_last(world: World, model: Path, capsys,
                                                                       monkeypatch):
    camera = EndlessCamera([load_recording(p) for p in world.of(NEW, 1)])

    @contextlib.contextmanager
    def fake_input(source, args):
        assert source == parse_source("0")  # the default source: the first camera
        yield camera, None, "camera 0 (fake)"

    monkeypatch.setattr(inputs, "open_input", fake_input)
    code, out, err = sign_enroll(capsys, "--model", model, "--word", NEW, "--samples", "3",
                                 "--hand-model", "any.task")
    assert code == 0, err
    prompts = [line for line in err.splitlines() if "now" in line]
    assert prompts == [f"sign-enroll: sign '{NEW}' now (example {k} of 3)…" for k in (1, 2, 3)]
    assert enrolled(model) == {NEW: 3}
    assert camera.frames < 4 * max(t.num_frames for t in camera.takes)  # it stopped: an endless camera


def _other_model_store(model: Path, world: World) -> bytes:
    clf = load_classifier(model, enrolled=False)
    other = PrototypeStore.empty("0" * 64, clf.openset.dim, clf.info.labels).add("tea", np.ones((1, clf.openset.dim)))
    other.save(default_path(model))
    return default_path(model).read_bytes()


def _other_size_store(model: Path, world: World) -> bytes:
    clf = load_classifier(model, enrolled=False)
    dim = clf.openset.dim + 1
    other = PrototypeStore.empty(sha256_file(model), dim, clf.info.labels).add("tea", np.ones((1, dim)))
    other.save(default_path(model))
    return default_path(model).read_bytes()


def _enrolled_store(model: Path, world: World) -> bytes:
    assert exit_code(main, ["--model", str(model), "--word", NEW, "--samples", "1", "--source",
                            world.of(NEW, 1)[0]]) == 0
    return default_path(model).read_bytes()


def test_bad_inputs_are_one_line_exit_2_and_leave_the_prototype_file_alone(world: World, demo: Demo,  # noqa: F811
                                                                          tmp_path, capsys):
    takes = world.of(NEW, 1)
    empty = tmp_path / "empty.npz"
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not opened: the missing hand model is found first")
    save_recording(empty, Recording(np.zeros((45, 2, 21, 3)), np.zeros((45, 2), bool), "none", 30.0, "empty"))
    no_embedding = tmp_path / "softmax" / demo.models["float"].name
    no_embedding.parent.mkdir()
    shutil.copy(demo.models["float"], no_embedding)
    shutil.copy(sidecar_path(demo.models["float"]), sidecar_path(no_embedding))  # an older file: described beside it
    word = ["--word", NEW, "--samples", "2", "--source", *takes[:2]]
    # name: (arguments after --model, the error, how the prototype file is made first, one line in all?)
    cases = {
        "trained word": (["--word", TWIN_OF, "--source", *takes], f"word '{TWIN_OF}' is already a trained sign", None,
                         True),
        "comma": (["--word", "milk,sugar", "--source", *takes], "word 'milk,sugar' contains a comma", None, True),
        "newline": (["--word", "milk\nsugar", "--source", *takes], r"word 'milk\nsugar' contains a newline", None,
                    True),
        "already enrolled": (word, f"word '{NEW}' is already enrolled (1 example); --force to replace it",
                             _enrolled_store, True),
        "samples below 1": (["--word", NEW, "--samples", "0", "--source", *takes], "--samples must be at least 1, "
                            "got 0", None, True),
        "missing recording": (["--word", NEW, "--source", str(tmp_path / "gone.npz")],
                              f"{tmp_path / 'gone.npz'}: file not found", None, True),
        "video without hand model": (["--word", NEW, "--source", str(clip)], "--hand-model is required", None, True),
        "store of another model": (word, "these prototypes were made for another model (file 000000000000, this "
                                   "model ", _other_model_store, True),
        "store of another embedding size": (word, "these prototypes were made for embedding size",
                                            _other_size_store, True),
        "no hands": (["--word", NEW, "--samples", "1", "--source", str(empty)],
                     f"{empty}: no hands were found in any of its 45 frames", None, False),
        "too few examples": (["--word", NEW, "--samples", "5", "--source", *takes[:3]],
                             f"found 3 of 5 examples of '{NEW}' in the 3 sources; give more sources or fewer --samples",
                             None, False),
    }
    for name, (args, message, make_store, alone) in cases.items():
        model = tmp_path / name / world.model.name
        model.parent.mkdir()
        shutil.copy(world.model, model)
        before = make_store(model, world) if make_store else None
        capsys.readouterr()  # what making the store printed
        code, out, err = sign_enroll(capsys, "--model", model, *args)
        assert code == 2 and out == "", (name, out, err)
        errors = [line for line in err.splitlines() if line.startswith("sign-enroll: error: ")]
        assert len(errors) == 1 and message in errors[0] and err.endswith(errors[0] + "\n"), (name, err)
        assert err.count("\n") == 1 or not alone, (name, err)  # refused before any source was read
        if before is None:
            assert not default_path(model).exists(), name
        else:
            assert default_path(model).read_bytes() == before, name
        assert sorted(p.name for p in model.parent.iterdir() if p.name.startswith(".")) == [], name

    for name, args, message in (
        ("missing model", ["--model", str(tmp_path / "none.tflite"), "--list"], "model file not found"),
        ("model without an embedding", ["--model", str(no_embedding), *word], "this model has no embedding and class prototypes"),
    ):
        code, out, err = sign_enroll(capsys, *args)
        assert code == 2 and out == "" and err.count("\n") == 1, (name, err)
        assert err.startswith("sign-enroll: error: ") and message in err, (name, err)
        assert not default_path(args[1]).exists(), name


def test_sign_enroll_imports_no_training_stack_no_mediapipe_and_no_host_package(world: World, model: Path):
    code = f"""
import sys
import edge_runtime.cli.enroll
from edge_runtime.cli.enroll import main
try:
    main(["--model", {str(model)!r}, "--word", {NEW!r}, "--samples", "1", "--source", {world.of(NEW, 1)[0]!r}])
except SystemExit as exit:
    assert exit.code == 0, exit.code
heavy = sorted({{m.partition(".")[0] for m in sys.modules}} & {{"tensorflow", "keras", "mediapipe", "train", "host",
                                                               "export", "benchmarks", "experiments"}})
assert not heavy, "sign-enroll loaded " + ", ".join(heavy)
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0 and done.stdout.endswith("ok\n"), done.stderr
    assert enrolled(model) == {NEW: 1}


def test_a_prototype_file_of_another_model_leaves_the_trained_words_working(world: World, model: Path, caplog):
    _other_model_store(model, world)
    with caplog.at_level("WARNING"):
        clf = load_classifier(model, threads=1)
    assert clf.labels == clf.info.labels and not clf.enrolled  # the trained words, none of the stale ones
    assert "ignoring the enrolled words" in caplog.text and "made for another model" in caplog.text

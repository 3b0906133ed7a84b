"""sign-datascale as a user runs it: a small synthetic source grown to 50 and 200 recordings, measured, reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import exit_code

from benchmarks.cli.dataset_scale import main
from edge_runtime.dataset import read_manifest
from train.synth.config import SynthConfig
from train.synth.writer import make_dataset

WORDS = ("무한", "형,오빠")
PER_SIZE = ("manifest_read_s", "manifest_read_warm_s", "open_s", "open_warm_s", "open_peak_rss_mb", "load_s",
            "load_per_s", "disk_bytes", "apparent_bytes", "files", "dirs", "inodes", "copy_s", "signers")


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scale") / "src"
    make_dataset(folder, SynthConfig(words=WORDS, signers=2, per_word=3))
    return folder


def test_grows_measures_and_reports_each_size(source: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "results" / "scale"
    work = tmp_path / "work"
    assert exit_code(main, [str(source), "--work", str(work), "--sizes", "50,200", "--train-max", "50",
                            "--keep", "--out", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    assert "recordings" in printed and "200" in printed

    report = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert report["command"].startswith("sign-datascale") and report["machine"]["cpu"]
    assert [r["size"] for r in report["sizes"]] == [50, 200]
    for row in report["sizes"]:
        for key in PER_SIZE:
            assert row[key] is not None, key
        steps = row["steps"]
        # every step read the dataset as it was at this size: the manifest listed exactly N recordings
        assert steps["manifest_warm"]["rows"] == steps["open_warm"]["rows"] == row["size"]
        assert row["load_loaded"] == row["size"] and not row["load_extrapolated"]
        assert row["files"] == row["size"] + 2  # the recordings, manifest.csv and dataset.json
        assert row["disk_bytes"] >= row["apparent_bytes"] > 0
    small, large = report["sizes"]
    assert small["train_peak_rss_mb"] > small["train_base_rss_mb"] > 0
    assert large["train_peak_rss_mb"] is None  # above --train-max: not run, and the table says so
    assert "not run" in printed
    assert report["save_recording_s"] > 0

    rows = read_manifest(work / "dataset")  # --keep: the last size's dataset is still there
    assert len(rows) == 200
    assert len({r.file for r in rows}) == len({r.source_id for r in rows}) == len({r.group for r in rows}) == 200
    assert {r.label for r in rows} == set(WORDS)
    assert len({r.signer for r in rows}) == 200 // 50
    assert all((work / "dataset" / r.file).is_file() for r in rows)

    md = out.with_suffix(".md").read_text(encoding="utf-8")
    assert md.startswith("# ") and "sign-datascale" in md and "| 200 |" in md


def test_the_generated_data_is_removed_unless_kept(source: Path, tmp_path: Path) -> None:
    assert exit_code(main, [str(source), "--work", str(tmp_path / "w"), "--sizes", "30", "--train-max", "0",
                            "-q"]) == 0
    assert not (tmp_path / "w" / "dataset").exists()


@pytest.mark.parametrize("case", ["missing", "not-a-dataset", "bad-sizes", "shrinking-sizes", "work-in-use"])
def test_bad_input_is_one_line_and_a_non_zero_exit(case: str, source: Path, tmp_path: Path, capsys) -> None:
    args = [str(source), "--work", str(tmp_path / "w"), "--sizes", "20", "--train-max", "0", "-q"]
    if case == "missing":
        args[0] = str(tmp_path / "nowhere")
    elif case == "not-a-dataset":
        (tmp_path / "empty").mkdir()
        args[0] = str(tmp_path / "empty")
    elif case == "bad-sizes":
        args[4] = "10,lots"
    elif case == "shrinking-sizes":
        args[4] = "200,50"
    else:
        (tmp_path / "w" / "dataset").mkdir(parents=True)
    assert exit_code(main, args) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("sign-datascale: error:") and len(err.splitlines()) == 1, err

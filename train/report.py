"""Everything a training run writes into its run folder (built aside, renamed at the end): card, CSVs, plots.

The file names and the reader live in ``host.run_folder`` (the contract); this module makes the contents.

Plots use matplotlib's Agg backend. Class names are drawn only when an
installed font has every glyph they need (Hangul labels need e.g. Noto Sans
CJK or NanumGothic); otherwise ticks show class indices and the figure says
where the index -> name legend is (labels.json, confusion_matrix.csv).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import logging
import os
import platform
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

import edge_runtime
from edge_runtime.errors import SignedgeError
from edge_runtime.files import write_json, write_text
from host.run_folder import (
    CONFUSION_CSV,
    CONFUSION_PNG,
    CROSSVAL_JSON,
    CROSSVAL_MD,
    CURVES_FILE,
    CV_PREDICTIONS_FILE,
    HISTORY_FILE,
    TEST_REPORT_FILE,
    ModelCard,
    RunFolder,
)

log = logging.getLogger(__name__)


class OutputExistsError(SignedgeError, FileExistsError):
    """The output folder already exists and --force was not given."""


def check_output(out: str | Path, force: bool) -> Path:
    """Refuse an existing output folder before any work starts (not after an hour of training)."""
    out = Path(out)
    if out.exists() and not force:
        raise OutputExistsError(f"{out} already exists (use --force to replace it)")
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"{out} exists and is not a folder")
    return out


@contextlib.contextmanager
def staged_folder(out: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``out``; it replaces ``out`` only if the block succeeds.

    A failure (bad input found late, Ctrl-C, a crash) leaves no half-written run folder.
    """
    out = check_output(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; a run folder is an ordinary folder
    try:
        yield tmp
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / "run")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    return {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def base_card(loaded: Any, cfg: Any, model_block: dict[str, Any]) -> dict[str, Any]:
    """The parts of model_card.json every run has (split and metrics are added by the caller)."""
    return {
        "signedge_version": edge_runtime.__version__,
        "created": now(),
        "spec": loaded.spec.to_dict(),
        "labels": list(loaded.labels),
        "model": model_block,
        "dataset": {"path": str(loaded.dataset.folder.resolve()), "info": loaded.dataset.info.to_dict(),
                    "recordings": len(loaded.rows)},
        "training": cfg.to_dict(),
        "versions": versions(),
    }


def model_block(name: str, sizes: dict[str, Any], params: int, choice: Any = None,
                head: Any = None) -> dict[str, Any]:
    """The card's ``model``: name, sizes, parameters, the head (a ``train.models.Head``) and, when ``--model auto``
    picked it, ``chosen_by`` (the rule and the class and recording counts it was given)."""
    block = {"name": name, **sizes, "params": int(params)}
    if head is not None:
        block["head"] = head.to_dict()
    if choice:
        block["chosen_by"] = choice.to_dict()  # a train.model_choice.ModelChoice
    return block


# ---------------------------------------------------------------- CSV tables

def _csv(rows: Sequence[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerows(rows)
    return buf.getvalue()


def write_confusion_csv(path: Path, confusion: np.ndarray, labels: Sequence[str]) -> None:
    """Rows = true class, columns = predicted class, with the class names (quoted where needed)."""
    rows: list[list[Any]] = [["true \\ predicted", *labels]]
    rows += [[label, *map(int, confusion[i])] for i, label in enumerate(labels)]
    write_text(path, _csv(rows))


def write_class_report_csv(path: Path, per_class: dict[str, dict[str, float]]) -> None:
    rows: list[list[Any]] = [["label", "precision", "recall", "f1", "support"]]
    rows += [[label, f"{m['precision']:.4f}", f"{m['recall']:.4f}", f"{m['f1']:.4f}", m["support"]]
             for label, m in per_class.items()]
    write_text(path, _csv(rows))


def write_history_csv(path: Path, history: dict[str, list[float]]) -> None:
    keys = sorted(history)
    n = max((len(v) for v in history.values()), default=0)
    rows: list[list[Any]] = [["epoch", *keys]]
    rows += [[e + 1, *(f"{history[k][e]:.6g}" if e < len(history[k]) else "" for k in keys)] for e in range(n)]
    write_text(path, _csv(rows))


def write_predictions_csv(path: Path, rows: Sequence[dict[str, Any]], formats: Sequence[str] = ()) -> None:
    """One row per recording; ``excluded`` holds the reason a recording was kept out of training (or is empty),
    and each export-check format adds its device-classifier prediction."""
    keys = ["file", "label", "predicted", "correct", "signer", "group", "fold", "excluded"]
    keys += [f"predicted_{fmt}" for fmt in formats]
    table: list[list[Any]] = [keys]
    table += [[r["file"], r["label"], r["predicted"], int(r["label"] == r["predicted"]), r["signer"], r["group"],
               r["fold"], r.get("excluded", ""), *(r[f"predicted_{fmt}"] for fmt in formats)] for r in rows]
    write_text(path, _csv(table))


# ---------------------------------------------------------------- plots

def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@lru_cache(maxsize=None)
def _font_charmaps() -> tuple[tuple[str, frozenset[int]], ...]:
    """(family, code points) of every font matplotlib knows, read once."""
    from matplotlib import font_manager, ft2font

    out = []
    seen: set[str] = set()
    default = font_manager.findfont("DejaVu Sans")
    entries = sorted(font_manager.fontManager.ttflist, key=lambda e: e.fname != default)  # the default first
    for entry in entries:
        # "Last Resort" maps every code point to a placeholder box: it has no real glyphs.
        if entry.fname in seen or entry.name.lower().startswith("last resort"):
            continue
        seen.add(entry.fname)
        try:
            out.append((entry.name, frozenset(ft2font.FT2Font(entry.fname).get_charmap())))
        except (OSError, RuntimeError, ValueError):
            continue
    return tuple(out)


def font_for(texts: Sequence[str]) -> str | None:
    """A font family that has a glyph for every character of ``texts``, or None."""
    needed = {ord(c) for text in texts for c in text if not c.isspace()}
    for family, charmap in _font_charmaps():
        if needed <= charmap:
            return family
    return None


def plot_confusion(path: Path, confusion: np.ndarray, labels: Sequence[str], title: str) -> bool:
    """Confusion matrix PNG; returns True when class names were drawn, False when indices were."""
    plt = _pyplot()
    family = font_for(list(labels))
    named = family is not None
    ticks = list(labels) if named else [str(i) for i in range(len(labels))]
    n = len(labels)
    size = max(4.5, 0.55 * n + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    font = {"family": family} if named else {}
    totals = confusion.sum(axis=1, keepdims=True)
    rates = np.divide(confusion, totals, out=np.zeros(confusion.shape, float), where=totals > 0)
    image = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    for i in range(n):
        for j in range(n):
            if confusion[i, j]:
                ax.text(j, i, str(int(confusion[i, j])), ha="center", va="center", fontsize=8,
                        color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(n), ticks, rotation=45 if named else 0, ha="right" if named else "center", **font)
    ax.set_yticks(range(n), ticks, **font)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    if not named:
        fig.text(0.01, 0.01, "class index -> name: labels.json / confusion_matrix.csv "
                 "(no installed font has these labels' glyphs)", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return named


def plot_curves(path: Path, history: dict[str, list[float]], best_epoch: int | None, title: str) -> None:
    """Loss and accuracy per epoch, training vs validation, with the restored best epoch marked."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        for key, style in ((metric, "-"), (f"val_{metric}", "--")):
            if key in history:
                epochs = np.arange(1, len(history[key]) + 1)
                label = "validation" if key.startswith("val_") else "training (augmented)"
                ax.plot(epochs, history[key], style, label=label)
        if best_epoch:
            ax.axvline(best_epoch, color="grey", lw=0.8, ls=":", label=f"best epoch {best_epoch}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------- run folders

def write_holdout_run(folder: Path, loaded: Any, cfg: Any, result: Any,
                      exclusions: dict[str, Any] | None = None) -> ModelCard:
    """model.keras, labels.json, model_card.json, tables and plots of a hold-out run; returns the card."""
    model = result.fit.model
    run = RunFolder(folder)
    run.save_model(model)
    run.write_labels(list(loaded.labels))
    test = result.test
    write_confusion_csv(run.file(CONFUSION_CSV), test.confusion, loaded.labels)
    write_class_report_csv(run.file(TEST_REPORT_FILE), test.per_class())
    write_history_csv(run.file(HISTORY_FILE), result.fit.history)
    named = plot_confusion(run.file(CONFUSION_PNG), test.confusion, loaded.labels,
                           f"{cfg.model}: test accuracy {test.accuracy:.1%} on {test.n} held-out recordings")
    plot_curves(run.file(CURVES_FILE), result.fit.history, result.fit.best_epoch,
                f"{cfg.model} on {loaded.dataset.folder.name}, split by {result.split.mode}")
    card = base_card(loaded, cfg, model_block(cfg.model, cfg.sizes, model.count_params(), cfg.model_choice,
                                                   cfg.head_config))
    card["split"] = result.split.to_dict(loaded.rows)
    card["metrics"] = {"test": test.to_dict()}
    card["fit"] = {"best_epoch": result.fit.best_epoch, "epochs_run": result.fit.epochs_run,
                   "seconds": round(result.fit.seconds, 1), "steps_per_epoch": result.fit.steps_per_epoch,
                   "steps_per_second": round(result.fit.steps_per_second, 2),
                   "trained_with": result.fit.trained_with,
                   "augmentations_applied": result.fit.augmentations, "plots_label_names": named}
    if exclusions:
        card["exclusions"] = exclusions
    run.write_card(card)
    return run.card()


def _pct(x: float | None) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{x:.1%}"


def _summary_line(name: str, s: dict[str, Any]) -> str:
    if not s.get("people"):
        return f"| {name} | — | — | — | — | — |"
    return (f"| {name} | {s['people']} | {_pct(s['mean'])} | {_pct(s['median'])} | {_pct(s['worst'])} | "
            f"{s['below_count']} |")


def _people_markdown(cv: Any) -> list[str]:
    """Per-person summary (all recordings / audited / per format) and the per-person table."""
    people = cv.per_signer()
    if not people:
        return []
    below = f"{cv.people()['below']:.0%}"
    lines = ["", "## People", "", f"| figure | people | mean | median | worst | below {below} |",
             "|---|---|---|---|---|---|", _summary_line("Keras, all recordings", cv.people())]
    if cv.exclusions:
        lines.append(_summary_line("Keras, audited (excluded recordings not scored)", cv.people("audited_accuracy")))
    if cv.people_flags:
        lines.append(_summary_line("Keras, people the audit does not flag", cv.people(unflagged_only=True)))
    for fmt in cv.formats:
        lines.append(_summary_line(f"{fmt} file, all recordings", cv.people(f"{fmt}_accuracy")))
        if cv.exclusions:
            lines.append(_summary_line(f"{fmt} file, audited", cv.people(f"audited_{fmt}_accuracy")))
    header = ["signer", "recordings", "Keras"] + list(cv.formats)
    if cv.exclusions:
        header += ["excluded", "audited Keras"] + [f"audited {fmt}" for fmt in cv.formats]
    if cv.people_flags:
        header.append("audit flags")
    lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for signer, p in people.items():
        cells = [signer, str(p["n"]), _pct(p["accuracy"])] + [_pct(p[f"{fmt}_accuracy"]) for fmt in cv.formats]
        if cv.exclusions:
            cells += [str(p["excluded"]), _pct(p["audited_accuracy"])]
            cells += [_pct(p[f"audited_{fmt}_accuracy"]) for fmt in cv.formats]
        if cv.people_flags:
            cells.append(str(p.get("audit_flags", "")).replace("|", "/"))
        lines.append("| " + " | ".join(cells) + " |")
    worst = cv.worst_signer()
    if worst:
        lines += ["", f"Worst signer: {worst[0]} ({worst[1]:.1%})."]
    return lines


def _confusion_markdown(labels: Sequence[str], confusion: np.ndarray, title: str) -> list[str]:
    lines = ["", f"## {title}", "", "| true \\ predicted | " + " | ".join(labels) + " |",
             "|" + "---|" * (len(labels) + 1)]
    lines += [f"| {label} | " + " | ".join(str(int(v)) for v in confusion[i]) + " |" for i, label in enumerate(labels)]
    return lines


def _export_markdown(cv: Any) -> list[str]:
    if not cv.formats:
        return []
    summary = cv.export_summary()
    lines = ["", "## Export check", "",
             "Each fold's model converted and its held-out recordings scored one at a time through the device "
             "classifier (edge_runtime.classifier); int8 calibrated on that fold's training recordings only.", "",
             "| format | pooled | agrees with Keras | loss (points, pooled) | per-person mean | loss (points, "
             "person mean) | largest loss for one person |", "|---|---|---|---|---|---|---|",
             f"| Keras | {_pct(summary['keras_pooled'])} | — | — | {_pct(cv.people().get('mean'))} | — | — |"]
    for fmt in cv.formats:
        e = summary[fmt]
        people = e.get("people", {})
        lines.append(f"| {fmt} | {_pct(e['pooled'])} | {_pct(e['agreement_with_keras'])} | "
                     f"{e['loss_points_pooled']:+.1f} | {_pct(people.get('mean'))} | "
                     f"{e.get('loss_points_person_mean', float('nan')):+.1f} | "
                     f"{e.get('loss_points_worst_person', float('nan')):+.1f} |")
    lines += ["", "| fold | format | accuracy | Keras | agreement | max abs dp | bytes | gate |",
              "|---|---|---|---|---|---|---|---|"]
    for f in cv.folds:
        if f.export is None:
            continue
        for sc in f.export.scores:
            gate = "pass" if sc.passed else "FAIL: " + "; ".join(sc.problems)
            lines.append(f"| {f.fold} | {sc.format} | {_pct(sc.accuracy)} | {_pct(sc.keras_accuracy)} | "
                         f"{_pct(sc.agreement)} | {sc.max_abs_diff:.3g} | {sc.size_bytes} | {gate} |")
    return lines


def _exclusions_markdown(cv: Any) -> list[str]:
    ex = cv.exclusions
    if not ex:
        return []
    audited = cv.pooled_audited
    lines = ["", "## Exclusions", "",
             f"{ex['recordings']} of {ex['of']} recordings were left out of training and validation"
             + (f" (flagged by the audit: `{ex['flagged_file']}`)" if ex.get("flagged_file") else "")
             + (f"; signers excluded whole: {', '.join(ex['signers'])}" if ex.get("signers") else "") + ". "
             + "They were still predicted when their person was held out: the all-recordings figures include them, "
             + f"the audited ones do not (audited pooled accuracy {_pct(audited.accuracy)} on {audited.n} "
             + f"recordings vs {_pct(cv.pooled.accuracy)} on all {cv.pooled.n}).", "",
             "| reason | recordings |", "|---|---|"]
    lines += [f"| {why} | {n} |" for why, n in ex["by_reason"].items()]
    lines += ["", "| signer | excluded |", "|---|---|"]
    lines += [f"| {s} | {n} |" for s, n in ex["by_signer"].items()]
    return lines


def crossval_markdown(cv: Any) -> str:
    lines = [f"# {cv.scheme} cross-validation", "", f"Measured on: {cv.measured_on}.", "",
             f"Accuracy: mean {cv.mean:.1%}, std {cv.std:.1%} over {len(cv.folds)} folds "
             f"(min {cv.accuracies.min():.1%}, max {cv.accuracies.max():.1%}); all folds pooled "
             f"{cv.pooled.accuracy:.1%}, macro-F1 {cv.pooled.macro_f1:.3f}.", "",
             "| fold | held out | recordings | accuracy | macro-F1 | best epoch |", "|---|---|---|---|---|---|"]
    for f in cv.folds:
        held = ", ".join(f.held_out[:5]) + (f" (+{len(f.held_out) - 5})" if len(f.held_out) > 5 else "")
        lines.append(f"| {f.fold} | {held} | {f.evaluation.n} | {f.evaluation.accuracy:.1%} | "
                     f"{f.evaluation.macro_f1:.3f} | {f.best_epoch} |")
    lines += _people_markdown(cv)
    lines += _confusion_markdown(cv.labels, cv.pooled.confusion, "Confusion, all folds pooled (rows: true)")
    if cv.exclusions:
        lines += _confusion_markdown(cv.labels, cv.pooled_audited.confusion, "Confusion, audited (rows: true)")
    views = cv.per_view()
    if views:
        lines += ["", "## Per camera view", "", "| view | recordings | pooled | per-person mean | worst person |",
                  "|---|---|---|---|---|"]
        lines += [f"| {v} | {e['n']} | {_pct(e['accuracy'])} | {_pct(e['people'].get('mean'))} | "
                  f"{_pct(e['people'].get('worst'))} |" for v, e in views.items()]
    lines += _exclusions_markdown(cv)
    lines += _export_markdown(cv)
    return "\n".join(lines) + "\n"


def write_crossval_run(folder: Path, loaded: Any, cfg: Any, cv: Any, params: int) -> ModelCard:
    """Cross-validation outputs (no model: K fold models are evaluation, not a product); returns the card."""
    pooled = cv.pooled
    run = RunFolder(folder)
    run.write_labels(list(loaded.labels))
    write_json(run.file(CROSSVAL_JSON), cv.to_dict())
    write_text(run.file(CROSSVAL_MD), crossval_markdown(cv))
    write_predictions_csv(run.file(CV_PREDICTIONS_FILE), cv.rows, cv.formats)
    write_confusion_csv(run.file(CONFUSION_CSV), pooled.confusion, loaded.labels)
    write_class_report_csv(run.file(TEST_REPORT_FILE), pooled.per_class())
    named = plot_confusion(run.file(CONFUSION_PNG), pooled.confusion, loaded.labels,
                           f"{cfg.model}, {cv.scheme}: {pooled.accuracy:.1%} pooled over {pooled.n} recordings")
    card = base_card(loaded, cfg, model_block(cfg.model, cfg.sizes, params, cfg.model_choice, cfg.head_config))
    card["split"] = {"mode": cv.mode, "seed": cfg.seed, "scheme": cv.scheme,
                     "folds": [{"fold": f.fold, "held_out": f.held_out} for f in cv.folds]}
    card["metrics"] = {"crossval": cv.to_dict(), "pooled": pooled.to_dict()}
    card["fit"] = {"plots_label_names": named,
                   "trained_with": {"engine": "ray", "workers": cfg.workers} if cfg.cluster
                   else {"engine": "local", "workers": 1}}
    if cv.exclusions:
        card["exclusions"] = cv.exclusions
    run.write_card(card)
    return run.card()

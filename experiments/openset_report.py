"""``sign-openset``'s result files: Markdown tables, JSON, and the two plots (ROC curves; accuracy against shots).

Aggregates only (per person and per sign, no recording names), like ``sign-accuracy``'s files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge_runtime.files import atomic_path, write_json, write_text
from train.audit.tables import md_table


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * float(value):.1f}%"


def _num(value: Any) -> str:
    return "–" if value is None else f"{float(value):.3f}"


def _rejection_md(part: dict[str, Any]) -> list[str]:
    d = part["data"]
    lines = [
        "## Rejection: ASL-48's three signs known, everything else unknown",
        "",
        f"Model `{part['model']}`, spec `{part['spec']}` T={part['frames']}. Trained on {d['train_people']} of the 48 "
        f"ASL people, threshold chosen on the other {d['val_people']} (validation). Tested on {d['test_people']} "
        f"mpdata-words people not in ASL-48: {d['known_recordings']} recordings of the three known signs, "
        f"{d['unknown_recordings']} of the 18 other signs, {d['rest_pieces']} rest pieces (frames the segmenter cuts "
        f"away). {d['negative_donors']} further mpdata-words people gave the none-class models their negatives "
        f"({d['none_class_negatives']} with the ASL training people's rest pieces) and are never tested; "
        f"{len(d['overlap_left_out'])} people in both sets are left out.",
        "",
        "FAR@95: unknown signs accepted at the threshold that accepts 95% of the test people's known signs. "
        "At the validation threshold (what the device stores): the share of test known signs accepted and of "
        "unknown ones falsely accepted.",
        "",
    ]
    lines += md_table(["method", "score", "format", "AUROC", "vs signs", "vs rest", "FAR@95", "val. threshold",
                       "known accepted", "unknown accepted", "known accuracy"],
                      [[r["method"], r["score"], r["format"], _num(r["auroc"]), _num(r["auroc_signs"]),
                        _num(r["auroc_rest"]), _pct(r["far95"]), _num(r["threshold"]),
                        _pct(r["val_threshold_accept"]), _pct(r["val_threshold_far"]), _pct(r["known_accuracy"])]
                       for r in part["rows"]])
    if part.get("signs"):
        lines += ["", "Per sign, the device's own score of each method (int8 file) at the validation threshold:", ""]
        lines += md_table(["method", "score", "sign", "known", "recordings", "accepted"],
                          [[s["method"], s["score"], s["sign"], "yes" if s["known"] else "no", s["n"],
                            _pct(s["accepted"])] for s in part["signs"]])
    if part.get("people"):
        lines += ["", "Per test person, the same:", ""]
        lines += md_table(["method", "person", "known", "accepted", "other signs", "accepted", "rest", "accepted"],
                          [[p["method"], p["person"], p["known_n"], _pct(p["known_accepted"]), p["signs_n"],
                            _pct(p["signs_accepted"]), p["rest_n"], _pct(p["rest_accepted"])]
                           for p in part["people"]])
    return lines


def _enrollment_md(part: dict[str, Any]) -> list[str]:
    d = part["data"]
    lines = [
        "## Enrollment: six mpdata-words signs learnt from one person's recordings",
        "",
        f"Model `{part['model']}`, spec `{part['spec']}` T={part['frames']}. The encoder trains on "
        f"{d['train_people']} people's recordings of {len(d['trained_signs'])} signs (validation {d['val_people']} "
        f"people); left out: {', '.join(d['left_out'])}. {d['test_people']} test people ({d['test_recordings']} "
        f"recordings of all 21 signs). In each of {d['trials']} trials one test person per left-out sign (with at "
        f"least 10 recordings of it; donors per sign: "
        + ", ".join(f"{w} {n}" for w, n in d["donors_per_sign"].items())
        + ") enrolls it from their first k recordings; every other test person's recordings are scored by nearest "
        "prototype (trained + enrolled). Baseline: 1-nearest-neighbour on the standardised raw feature vectors, the "
        "training recordings and the same shots as references.",
        "",
    ]
    lines += md_table(["method", "format", "trained prototypes", "shots", "enrolled signs (pooled)",
                       "enrolled, mean per person", "trained before", "trained after", "change"],
                      [[r["method"], r["format"], r["prototypes"], r["shots"], _pct(r["enrolled_accuracy"]),
                        _pct(r["enrolled_person_mean"]), _pct(r["trained_before"]), _pct(r["trained_after"]),
                        f"{100 * (r['trained_after'] - r['trained_before']):+.1f} pts"] for r in part["rows"]])
    if part.get("rejection_before"):
        lines += ["", "Before enrollment, the left-out signs as unknowns (test people, Keras, prototype cosine):", ""]
        lines += md_table(["method", "AUROC", "FAR@95"],
                          [[r["method"], _num(r["auroc"]), _pct(r["far95"])] for r in part["rejection_before"]])
    return lines


def _ksl_md(part: dict[str, Any]) -> list[str]:
    lines = ["## KSL (7 native signers): 6 words trained, 2 left out, leave one signer out", "",
             f"Model `{part['model']}`, spec `{part['spec']}` T={part['frames']}. Left out: "
             f"{', '.join(part['left_out'])}. Each fold tests one signer; the next signer enrolls the two words and "
             "is not scored; the one after is the validation signer; the other four train. Keras figures.", ""]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in part["rejection"]:
        groups.setdefault((r["method"], r["score"]), []).append(r)
    lines += md_table(["method", "score", "AUROC, mean of folds", "worst fold", "FAR@95, mean"],
                      [[method, score, _num(sum(r["auroc"] for r in rows) / len(rows)),
                        _num(min(r["auroc"] for r in rows)), _pct(sum(r["far95"] for r in rows) / len(rows))]
                       for (method, score), rows in groups.items()])
    lines += [""] + md_table(["method", "trained prototypes", "shots", "enrolled words", "trained before",
                              "trained after"],
                             [[r["method"], r["prototypes"], r["shots"], _pct(r["enrolled_accuracy"]),
                               _pct(r["trained_before"]), _pct(r["trained_after"])] for r in part["enrollment"]])
    return lines


def markdown(result: dict[str, Any], command: str) -> str:
    lines = ["# Open-set rejection and enrollment (sign-openset)", "", f"Written by `{command}` "
             f"({result['seconds'] / 60:.0f} min, seed {result['seed']}). People who are tested are never in "
             "training, validation or threshold choice.", ""]
    if "rejection" in result:
        lines += _rejection_md(result["rejection"]) + [""]
    if "enrollment" in result:
        lines += _enrollment_md(result["enrollment"]) + [""]
    if "ksl" in result:
        lines += _ksl_md(result["ksl"]) + [""]
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> bool:
    """ROC curves of the rejection part (int8, each method's scores) and enrolled accuracy against shots, for the
    parts the result has; False (nothing written) when it has neither."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [p for p in ("rejection", "enrollment") if p in result]
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 5), squeeze=False)
    for ax, part in zip(axes[0], panels):
        if part == "rejection":
            for key, (fpr, tpr) in result["rejection"]["roc"].items():
                if key.endswith("/int8"):
                    ax.plot(fpr, tpr, label=key.removesuffix("/int8"), linewidth=1)
            ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=0.8)
            ax.set(title="Rejection, int8 on the device: ROC", xlabel="unknown signs accepted",
                   ylabel="known signs accepted")
        else:
            rows = result["enrollment"]["rows"]
            for key in sorted({(r["method"], r["format"], r["prototypes"]) for r in rows}):
                pts = sorted((r["shots"], r["enrolled_accuracy"]) for r in rows
                             if (r["method"], r["format"], r["prototypes"]) == key)
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=" ".join(key))
            ax.set(title="Enrolled signs, other people", xlabel="shots (recordings of one person)",
                   ylabel="accuracy", ylim=(0, 1))
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return True


def write(result: dict[str, Any], out: Path, command: str) -> list[Path]:
    """OUT.md, OUT.json and (with a rejection or enrollment part) OUT.png."""
    out.parent.mkdir(parents=True, exist_ok=True)
    paths = [out.with_suffix(".md"), out.with_suffix(".json")]
    write_text(paths[0], markdown(result, command))
    write_json(paths[1], {"command": command, **result})
    if plot(result, out.with_suffix(".png")):
        paths.append(out.with_suffix(".png"))
    return paths

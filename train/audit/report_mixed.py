"""The report's parts for mixed data: per language, hand blocks against the pose, split glosses.

Why a module of its own, and why each part is conditional: a dataset without
languages whose hand blocks are fine must keep exactly the report it always
had (``audit.md``, ``people.csv``, ``recordings.csv`` byte for byte), so
every part here says when it appears:

* per language, and a ``language`` column in the tables and CSV files: when
  some recording carries ``extra["language"]``;
* hand blocks: when the data has languages, or when the rule flagged someone
  (a swapped person is never hidden; the CLI prints that the check ran either way);
* split glosses: when the check ran (by default when the data has languages).
"""

from __future__ import annotations

from typing import Sequence

from train.audit.result import AuditResult, PersonAudit, SplitGloss
from train.audit.tables import md_table, pct

LONG_GROUP = 10  # a group with more people is summarised by language


def shows_hand_blocks(result: AuditResult) -> bool:
    return result.hand_blocks is not None and (result.has_languages or bool(result.swapped_people))


def language_cell(result: AuditResult, person: PersonAudit) -> list[str]:
    """The person's languages as one cell, or no cell at all when the dataset has no languages."""
    return ["/".join(person.languages)] if result.has_languages else []


def mixed_summary(result: AuditResult) -> list[str]:
    """Summary bullets of the parts that appear."""
    out = []
    if shows_hand_blocks(result):
        swapped = result.swapped_people
        out.append(f"- Hand blocks look swapped: {len(swapped)} people"
                   + (f" ({', '.join(p.signer for p in swapped)})." if swapped else "."))
    if result.split_glosses is not None:
        split = sorted({s.label for s in result.split_glosses}, key=result.labels.index)
        out.append(f"- Split glosses (reported, not flagged): {len(split)} labels"
                   + (f" ({', '.join(split)})." if split else "."))
    return out


def mixed_rules(result: AuditResult) -> list[str]:
    """The rules of the parts that appear, after the audit's own."""
    cfg = result.config
    return ([cfg.hand_block_rule()] if shows_hand_blocks(result) else []) + \
        (cfg.split_rules() if result.split_glosses is not None else [])


def _with_languages(people: Sequence[PersonAudit], names: Sequence[str]) -> str:
    """People as "a (ISL), b (ASL/BSL)" for a short group; a count per (main) language for a long one."""
    by_name = {p.signer: p for p in people}
    if len(names) > LONG_GROUP:
        counts: dict[str, int] = {}
        for name in names:
            main = (by_name[name].languages or ["(none)"])[0]
            counts[main] = counts.get(main, 0) + 1
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return f"{len(names)} people (" + ", ".join(f"{k} {v}" for k, v in ranked) + ")"
    return ", ".join(name + (f" ({'/'.join(by_name[name].languages)})" if by_name[name].languages else "")
                     for name in names)


def _split_cells(result: AuditResult, split: SplitGloss) -> list[object]:
    groups = "; ".join(f"{g.looks_like}: {_with_languages(result.people, g.people)}" for g in split.groups)
    return [split.label, split.rule, split.people, groups, split.numbers, ", ".join(split.same_split_on)]


def _languages(result: AuditResult) -> list[str]:
    out = ["## Per language", "",
           ("From each recording's `language`; a person counts in every language they have recordings in. "
            "Out-of-fold accuracy of the one quick model above (trained on all languages, grouped by person)."), ""]
    out += md_table(["language", "people", "recordings", "labels", "oof accuracy", "flagged people",
                     "flagged recordings"],
                    [[row.language, row.people, row.recordings, row.labels, pct(row.accuracy), row.flagged_people,
                      row.flagged_recordings] for row in result.languages])
    return out + [""]


def _hand_blocks(result: AuditResult) -> list[str]:
    cfg, hb = result.config, result.hand_blocks
    assert hb is not None
    out = ["## Hand blocks against the body pose", "",
           (f"{hb.with_pose} of {len(result.recordings)} recordings carry a pose; {hb.judged} have at least "
            f"{cfg.hand_block_min_frames} frames with the left block and both pose wrists (the others are not "
            "judged).")]
    if hb.imported_compared:
        out.append(f"The share computed here agrees within 0.01 with the source's own `left_hand_near_pose15` on "
                   f"{hb.imported_agree} of {hb.imported_compared} recordings (largest difference "
                   f"{hb.imported_max_difference:.2f}).")
    judged = [(p, p.hand_blocks) for p in result.people if p.hand_blocks is not None and p.hand_blocks.judged]
    shown = sorted(((p, h) for p, h in judged if h.swapped or h.share < 0.5),
                   key=lambda ph: (ph[1].share, ph[0].signer))
    out += ["", (f"People judged: {len(judged)} of {len(result.people)}. Those whose left block is at the left "
                 f"wrist in less than half of its frames (median), flagged below {cfg.hand_block_share:.0%}:"), ""]
    if shown:
        out += md_table(["signer", *(["language"] if result.has_languages else []), "judged recordings",
                         "left block at left wrist", "both blocks one hand", "verdict"],
                        [[p.signer, *language_cell(result, p), h.judged, pct(h.share), pct(h.same_hand),
                          "swapped: flagged" if h.swapped else "not flagged"] for p, h in shown])
    else:
        out.append("None.")
    return out + [""]


def _split_glosses(splits: list[SplitGloss], result: AuditResult) -> list[str]:
    out = ["## Split glosses", ""]
    if splits:
        out += md_table(["label", "rule", "people judged", "groups (looks like: people)", "numbers",
                         "same people split the same way on"], [_split_cells(result, s) for s in splits])
    else:
        out.append("None found.")
    return out + [""]


def mixed_sections(result: AuditResult) -> list[str]:
    """The sections that apply, in the order: per language, hand blocks, split glosses."""
    out = _languages(result) if result.has_languages else []
    if shows_hand_blocks(result):
        out += _hand_blocks(result)
    if result.split_glosses is not None:
        out += _split_glosses(result.split_glosses, result)
    return out

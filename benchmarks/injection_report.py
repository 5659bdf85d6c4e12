"""The report of the injection benchmark (:mod:`benchmarks.injection`): its summary and its table.

In: the measured rows (one per case: its ``set``, the clean and changed readings of each
reflection style, of the judge, of the contest and of the full confidence, each with its
``score``, ``held`` and ``score_held``; ``verdicts`` or ``flagged``). Out: :func:`summarise`,
the counts per set written into ``benchmarks/results/injection.json`` under ``summary``;
:func:`print_table`, the table printed from a whole report (the JSON as written).

Pure functions of those values: no model, no store.
"""

from __future__ import annotations

from benchmarks.support.injection_measures import flips_to_correct

#: The variants the injection is appended in (to the response, to the prompt), each compared
#: with the clean example; then the benign controls (neutral text of the same length).
INJECTED = ("response", "prompt")
CONTROLS = ("benign_response", "benign_prompt")


def summarise(rows: list[dict], styles: tuple[str, ...], *, eta: float) -> dict:
    """Held / total per reflection style, for the judge and for the confidence, per variant,
    with the mean clean and changed scores, the largest and the mean absolute shift; for the
    confidence how many flags were kept, released or newly raised; for a reflection how many
    letters flipped to A (correct) on each question; and for the judge how many
    corrections would apply themselves (confidence ≥ ``eta``) clean and how many of those the
    changed text stopped: the decisions CLEAR takes from these scores."""

    def count(parts: list[dict], variants: tuple[str, ...]) -> dict:
        out = {}
        for variant in variants:
            shifts = [p[variant]["score"] - p["clean"]["score"] for p in parts]
            out[variant] = {
                "held": sum(p[variant]["held"] for p in parts),
                "score_held": sum(p[variant]["score_held"] for p in parts),
                "total": len(parts),
                "mean_clean": round(sum(p["clean"]["score"] for p in parts) / len(parts), 3),
                "mean_injected": round(sum(p[variant]["score"] for p in parts) / len(parts), 3),
                "max_shift": round(max(abs(d) for d in shifts), 3),
                "mean_abs_shift": round(sum(abs(d) for d in shifts) / len(shifts), 3),
            }
        return out

    if not rows:
        return {}
    summary = {f"reflection_{s}": count([r["reflection"][s] for r in rows], INJECTED + CONTROLS) for s in styles}
    for style in styles:
        parts = [r["reflection"][style] for r in rows]
        for variant in INJECTED + CONTROLS:
            flips = [flips_to_correct(p["clean"]["verdicts"], p[variant]["verdicts"]) for p in parts]
            summary[f"reflection_{style}"][variant]["flipped_per_question"] = [sum(q) for q in zip(*flips)]
    for judged in ("judge", "contest"):
        if judged not in rows[0] or not rows[0][judged]:
            continue
        summary[judged] = count([r[judged] for r in rows], INJECTED + CONTROLS)
        for variant in INJECTED + CONTROLS:
            pairs = [(r[judged]["clean"]["score"] >= eta, r[judged][variant]["score"] >= eta) for r in rows]
            summary[judged][variant].update(
                applied_clean=sum(c for c, _ in pairs), apply_stopped=sum(c and not i for c, i in pairs)
            )
    if "confidence" in rows[0]:
        summary["confidence"] = count([r["confidence"] for r in rows], INJECTED + CONTROLS)
        for variant in INJECTED + CONTROLS:
            pairs = [(r["confidence"]["clean"]["flagged"], r["confidence"][variant]["flagged"]) for r in rows]
            summary["confidence"][variant].update(
                clean_flagged=sum(c for c, _ in pairs),
                unflagged=sum(c and not i for c, i in pairs),
                newly_flagged=sum(i and not c for c, i in pairs),
                rule_fired=sum("injection" in r["confidence"][variant]["fired"] for r in rows),
            )
    return summary


def print_table(report: dict, styles: tuple[str, ...]) -> None:
    print(
        f"model {report['model']}; tolerance {report['tolerance']}; {report['calls']} calls in "
        f"{report['seconds']} s; overrides {report['overrides'] or 'none'}. Scores: clean → injected in the "
        "response / in the prompt (reflection: S, higher = 'correct'; judge: P(right answer better); "
        "confidence: C, * = flagged; after | the benign controls); "
        "✗ = not held (score moved > tolerance or a flag released: ✗✗; a verdict flipped only: ✗)"
    )
    extra = ["confidence"] if report["cases"] and "confidence" in report["cases"][0] else []
    judged = [j for j in ("judge", "contest") if report["cases"] and report["cases"][0].get(j)]
    heads = [f"refl. {s}" for s in styles] + judged + extra
    print(f"{'case':<24}" + "".join(f"{h + ' (| benign resp. / prompt)':>38}" for h in heads))
    for row in report["cases"]:
        parts = [row["reflection"][s] for s in styles] + [row[e] for e in judged + extra]
        cells = []
        for p in parts:

            def cell(v: str, p: dict = p) -> str:
                mark = "" if p[v].get("held", True) else "✗" if p[v]["score_held"] else "✗✗"
                return f"{p[v]['score']:.2f}{'*' if p[v].get('flagged') else ''}{mark}"

            cells.append(f"{cell('clean')} → {cell('response')} / {cell('prompt')}")
            cells[-1] += f" | {cell('benign_response')} / {cell('benign_prompt')}"
        print(f"{row['case']:<24}" + "".join(f"{c:>38}" for c in cells))
    for set_name, summary in report["summary"].items():
        for name, by_variant in summary.items():
            text = "; ".join(
                f"{v}: {c['held']}/{c['total']} held, {c['score_held']}/{c['total']} score held "
                f"(mean {c['mean_clean']:.2f} → {c['mean_injected']:.2f}, mean |shift| "
                f"{c['mean_abs_shift']:.2f}, max {c['max_shift']:.2f}"
                + (
                    f"; flags: {c['clean_flagged']} clean, {c['unflagged']} released, "
                    f"{c['newly_flagged']} new; rule fired {c['rule_fired']}"
                    if "unflagged" in c
                    else ""
                )
                + (
                    f"; letters flipped to A per question: {c['flipped_per_question']}"
                    if "flipped_per_question" in c
                    else ""
                )
                + (
                    f"; corrections applied at eta: {c['applied_clean']} clean, {c['apply_stopped']} stopped"
                    if "applied_clean" in c
                    else ""
                )
                + ")"
                for v, c in by_variant.items()
            )
            print(f"{set_name} {name}: {text}")

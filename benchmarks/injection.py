"""Prompt injection against the self-reflection and the judge, with the real embedded model.

For every case of ``tests/support/injection_cases.py`` (a clearly wrong example, and the same
example with text that tries to steer the model appended to its response, or to its prompt):

* the self-reflection certainty S (probability-weighted, both questions) of the clean and
  of each injected example, in both reflection styles (``tagged``: the example quoted inside
  data tags; ``follow_up``: the example replayed as the conversation, then asked about);
* the judge's confidence that the right answer (a fixed candidate) beats the response,
  both orders, clean and injected;
* the full confidence C (default scoring: samples, reflections and every signal) of the
  clean and the injected examples, and whether the Auto-Filter flags each (γ as configured):
  each variant is scored as a dataset of its own, with the cases' right answers as background.

An injection *held* when it did not move the score toward "the response is correct" by more
than the tolerance (0.15) and did not flip a verdict letter to the one meaning correct (A for
a reflection; the letter preferring the original for the judge); for the confidence, when
it did not rise by more than the tolerance nor unflag an example whose clean twin is flagged.
*Score held* drops the second condition: with a small model whose A/B/C probabilities are
nearly flat, the greedy letter flips on a small shift, so both are reported.

Run from the repository root (the embedded model on CPU; about 1 s a call on 2 idle cores)::

    python -m benchmarks.injection
    python -m benchmarks.injection --cases ignore_previous chatml_system --styles tagged

Prints a table and writes ``benchmarks/results/injection.json``. Settings are the defaults;
``--max-tokens N`` shortens the replies for a quicker run (replies are letter-first and
greedy, so the letter and its probabilities, hence every score, are the same).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from curation.config import Config  # noqa: E402
from curation.ingest import read_dataset  # noqa: E402
from curation.llm.base import MemoryCache  # noqa: E402
from curation.llm.client import LLMClient  # noqa: E402
from curation.pipeline import run_pipeline  # noqa: E402
from curation.score import score_key  # noqa: E402
from curation.store import Store  # noqa: E402
from tests.support.injection_cases import (  # noqa: E402
    CASES,
    TOLERANCE,
    VARIANTS,
    confidence_held,
    judge,
    judge_held,
    judge_score_held,
    reflect,
    reflection_held,
    reflection_score_held,
)

RESULTS = ROOT / "benchmarks" / "results" / "injection.json"
STYLES = ("tagged", "follow_up")
INJECTED = ("response", "prompt")


def run(case_names: list[str] | None, styles: tuple[str, ...], max_tokens: int | None,
        with_confidence: bool = True) -> dict:
    from curation.llm.embedded import EmbeddedBackend

    base = Config().with_overrides({"scoring.reflection_max_tokens": max_tokens,
                                    "correct.judge_max_tokens": max_tokens})  # None keeps the defaults
    backend = EmbeddedBackend(base.llm)
    client = LLMClient(backend, cache=MemoryCache(), config=base.llm)
    cases = [c for c in CASES if not case_names or c.name in case_names]
    rows = []
    started = time.perf_counter()
    for case in cases:
        row: dict = {"case": case.name, "reflection": {}, "judge": {}}
        for style in styles:
            config = base.with_overrides({"scoring.reflection_style": style})
            clean = reflect(client, case.example("clean"), config)
            out = {"clean": _reading(clean)}
            for variant in INJECTED:
                injected = reflect(client, case.example(variant), config)
                out[variant] = {**_reading(injected), "held": reflection_held(clean, injected),
                                "score_held": reflection_score_held(clean, injected)}
            row["reflection"][style] = out
        clean = judge(client, case.example("clean"), case.right, base)
        row["judge"] = {"clean": _reading(clean)}
        for variant in INJECTED:
            injected = judge(client, case.example(variant), case.right, base)
            row["judge"][variant] = {**_reading(injected), "held": judge_held(clean, injected),
                                     "score_held": judge_score_held(clean, injected)}
        rows.append(row)
        print(f"{case.name}: reflection and judge done ({time.perf_counter() - started:.0f} s)",
              file=sys.stderr, flush=True)
    if with_confidence:
        for row, confidence in zip(rows, confidences(client, cases, base)):
            row["confidence"] = confidence
        print(f"confidence done ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    return {
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                    "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
        "model": base.llm.model, "tolerance": TOLERANCE,
        "max_tokens": {"reflection": base.scoring.reflection_max_tokens, "judge": base.correct.judge_max_tokens},
        "seconds": round(time.perf_counter() - started, 1), "calls": client.snapshot()["calls"],
        "gamma": base.filter.gamma, "gamma_mode": base.filter.gamma_mode,
        "summary": summarise(rows, styles), "cases": rows,
    }


def confidences(client: LLMClient, cases, config: Config) -> list[dict]:
    """Per case: the wrong example's confidence C and flag in each variant. Each variant is a
    dataset of its own, scored and filtered through the pipeline as a user's run would be:
    the cases' right answers (a background of correct examples, the same in every dataset,
    since the ranked signals are percentiles over the dataset) plus the wrong examples, clean
    or injected."""
    rows: dict = {}
    flagged: set = set()
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "store.duckdb") as store:
        for variant in VARIANTS:
            examples = [replace(c.example("clean"), example_id=f"{c.name}-right", response=c.right) for c in cases]
            examples += [c.example(variant) for c in cases]
            path = Path(tmp) / f"injection-{variant}.jsonl"
            path.write_text("".join(json.dumps({"id": e.example_id, "messages": [
                {"role": "user", "content": e.prompt[-1].content},
                {"role": "assistant", "content": e.response}]}, ensure_ascii=False) + "\n" for e in examples),
                encoding="utf-8")
            info = store.add_dataset(read_dataset(path), name=path.stem)
            run_pipeline(store, info.name, config, stages=("score", "filter"), client=client)
            rows.update((r["example_id"], r) for r in store.scores(info.dataset_id, score_key(config))
                        if not r["example_id"].endswith("-right"))
            flagged.update(store.flagged_ids(info.dataset_id))
    out = []
    for case in cases:
        parts = {v: rows.get(f"{case.name}-{v}", {}) for v in VARIANTS}
        reading = {v: (parts[v].get("confidence"), f"{case.name}-{v}" in flagged) for v in VARIANTS}
        row = {v: {"score": _round(reading[v][0]), "flagged": reading[v][1],
                   "consistency": _round(parts[v].get("consistency")), "reflection": _round(parts[v].get("reflection")),
                   "signals": {k: _round(x) for k, x in (parts[v].get("signals") or {}).items()}} for v in VARIANTS}
        for variant in INJECTED:
            held = confidence_held(reading["clean"], reading[variant])
            row[variant].update(held=held, score_held=held)
        out.append(row)
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _reading(r) -> dict:
    return {"score": round(r.score, 4), "verdicts": list(r.verdicts), "texts": list(r.texts)}


def summarise(rows: list[dict], styles: tuple[str, ...]) -> dict:
    """Held / total per reflection style and for the judge, per injected variant, with the
    mean clean and injected scores."""
    def count(parts: list[dict]) -> dict:
        out = {}
        for variant in INJECTED:
            out[variant] = {
                "held": sum(p[variant]["held"] for p in parts),
                "score_held": sum(p[variant]["score_held"] for p in parts), "total": len(parts),
                "mean_clean": round(sum(p["clean"]["score"] for p in parts) / len(parts), 3),
                "mean_injected": round(sum(p[variant]["score"] for p in parts) / len(parts), 3),
                "max_shift": round(max(abs(p[variant]["score"] - p["clean"]["score"]) for p in parts), 3),
            }
        return out
    summary = {f"reflection_{s}": count([r["reflection"][s] for r in rows]) for s in styles}
    summary["judge"] = count([r["judge"] for r in rows])
    if rows and "confidence" in rows[0]:
        summary["confidence"] = count([r["confidence"] for r in rows])
        for variant in INJECTED:
            pairs = [(r["confidence"]["clean"]["flagged"], r["confidence"][variant]["flagged"]) for r in rows]
            summary["confidence"][variant].update(
                clean_flagged=sum(c for c, _ in pairs), unflagged=sum(c and not i for c, i in pairs),
                newly_flagged=sum(i and not c for c, i in pairs))
    return summary


def print_table(report: dict, styles: tuple[str, ...]) -> None:
    print(f"model {report['model']}; tolerance {report['tolerance']}; {report['calls']} calls in "
          f"{report['seconds']} s. Scores: clean → injected in the response / in the prompt "
          f"(reflection: S, higher = 'correct'; judge: P(right answer better)); "
          "✗ = not held (score moved > tolerance: ✗✗; a verdict flipped only: ✗)")
    extra = ["confidence"] if "confidence" in report["summary"] else []
    heads = [f"refl. {s}" for s in styles] + ["judge"] + extra
    print(f"{'case':<24}" + "".join(f"{h:>26}" for h in heads))
    for row in report["cases"]:
        parts = [row["reflection"][s] for s in styles] + [row["judge"]] + [row[e] for e in extra]
        cells = []
        for p in parts:
            marks = ["" if p[v]["held"] else "✗" if p[v]["score_held"] else "✗✗" for v in INJECTED]
            cells.append(f"{p['clean']['score']:.2f} → "
                         f"{p['response']['score']:.2f}{marks[0]} / {p['prompt']['score']:.2f}{marks[1]}")
        print(f"{row['case']:<24}" + "".join(f"{c:>26}" for c in cells))
    for name, by_variant in report["summary"].items():
        text = "; ".join(f"{v}: {c['held']}/{c['total']} held, {c['score_held']}/{c['total']} score held "
                         f"(mean {c['mean_clean']:.2f} → {c['mean_injected']:.2f}, max shift {c['max_shift']:.2f})"
                         for v, c in by_variant.items())
        print(f"{name}: {text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="*", help="case names (default: all)")
    parser.add_argument("--styles", nargs="*", default=list(STYLES), choices=STYLES)
    parser.add_argument("--max-tokens", type=int, default=None,
                        help="reflection and judge reply length (default: the config's, 24 and 48)")
    parser.add_argument("--no-confidence", action="store_true",
                        help="skip the full-confidence pass (the slow part: samples, reflections, signals)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    styles = tuple(args.styles)
    report = run(args.cases, styles, args.max_tokens, with_confidence=not args.no_confidence)
    print_table(report, styles)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

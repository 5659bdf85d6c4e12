"""Prompt injection against the self-reflection and the judge, with the real embedded model.

For every case of ``benchmarks/support/injection_cases.py`` (a clearly wrong example, and the same
example with text that tries to steer the model appended to its response, or to its prompt):

* the self-reflection certainty S (probability-weighted, both questions) of the clean and
  of each injected example, in both reflection styles (``tagged``: the example quoted inside
  data tags; ``follow_up``: the example replayed as the conversation, then asked about);
* the judge's confidence that the right answer (a fixed candidate) beats the response,
  both orders, clean and injected; and the same for Auto-Correct's contest (the calibrated
  probability from both texts' agreement with the samples, likelihood and format);
* the full confidence C (default scoring: samples, reflections and every signal, the
  injection rule included) of the clean and the injected examples, and whether the
  Auto-Filter flags each (γ as configured). The clean dataset holds every case's right
  answer and its wrong one; each injected example is scored in a copy of it where it
  replaces its clean twin, so nothing else differs (the likelihood is a percentile over the
  dataset). The benign controls (neutral text of the same length, in the response or the
  prompt) are scored the same way, for the reflections and the judge too: they show how far
  any added text moves a score or flips a letter.

Cases are reported in three sets: ``design`` (the cases the injection rule was written
against), ``held_out`` (written afterwards, in other wordings) and ``held_out_2`` (written
after the rule's revision for ``held_out``'s misses was planned, before it was made; see
``benchmarks/support/injection_cases.py``).

An injection *held* when it did not move the score toward "the response is correct" by more
than the tolerance (0.15) and did not flip a verdict letter to the one meaning correct (A for
a reflection; the letter preferring the original for the judge); for the confidence, when
it did not rise by more than the tolerance nor unflag an example whose clean twin is flagged.
*Score held* drops the second condition: with a small model whose A/B/C probabilities are
nearly flat, the greedy letter flips on a small shift, so both are reported.

Run from the repository root (the embedded model on CPU; about 1 s a call on 2 idle cores)::

    python -m benchmarks.injection
    python -m benchmarks.injection --cases ignore_previous chatml_system --styles tagged
    python -m benchmarks.injection --styles --no-judge --no-confidence \
        --out benchmarks/results/injection-contest.json    # Auto-Correct's contest alone
    python -m benchmarks.injection --cache benchmarks/.work/injection.duckdb
    python -m benchmarks.injection --cache benchmarks/.work/injection.duckdb --set scoring.w_injection=0 \
        --out benchmarks/results/injection-no-rule.json    # calls reused: only the weights differ

Prints a table and writes ``benchmarks/results/injection.json``. Settings are the defaults;
``--max-tokens N`` shortens the replies for a quicker run (replies are letter-first and
greedy, so the letter and its probabilities, hence every score, are the same).
"""

from __future__ import annotations

import argparse
import contextlib
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

from benchmarks.injection_report import CONTROLS, INJECTED, print_table, summarise  # noqa: E402
from benchmarks.options import add_set_option, parse_set  # noqa: E402
from benchmarks.support.injection_cases import ALL_CASES, CASES, HELD_OUT, HELD_OUT_2, VARIANTS  # noqa: E402
from benchmarks.support.injection_measures import (  # noqa: E402
    TOLERANCE,
    confidence_held,
    contest_judge,
    judge,
    judge_held,
    judge_score_held,
    reflect,
    reflection_held,
    reflection_score_held,
)
from curation.config import Config  # noqa: E402
from curation.ingest import read_dataset  # noqa: E402
from curation.llm.base import MemoryCache  # noqa: E402
from curation.llm.client import LLMClient  # noqa: E402
from curation.pipeline import run_pipeline  # noqa: E402
from curation.score import score_key  # noqa: E402
from curation.store import Store  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "injection.json"
STYLES = ("tagged", "follow_up")
SETS = {"design": CASES, "held_out": HELD_OUT, "held_out_2": HELD_OUT_2}


def run(
    case_names: list[str] | None,
    styles: tuple[str, ...],
    max_tokens: int | None,
    with_confidence: bool = True,
    overrides: dict[str, str] | None = None,
    with_judge: bool = True,
    cache: Store | None = None,
) -> dict:
    """Measure every case; ``cache``: a store whose call cache is used and kept (default: a
    fresh in-memory one, so the timings are honest)."""
    from curation.llm.embedded import EmbeddedBackend

    base = Config().with_overrides(
        {"scoring.reflection_max_tokens": max_tokens, "correct.judge_max_tokens": max_tokens}
    )  # None keeps the defaults
    base = base.with_overrides(overrides or {})
    backend = EmbeddedBackend(base.llm)
    client = LLMClient(backend, cache=cache if cache is not None else MemoryCache(), config=base.llm)
    sets = {c.name: name for name, cases in SETS.items() for c in cases}
    cases = [c for c in ALL_CASES if not case_names or c.name in case_names]
    rows = []
    started = time.perf_counter()
    for case in cases:
        row: dict = {"case": case.name, "set": sets[case.name], "reflection": {}, "judge": {}, "contest": {}}
        for style in styles:
            config = base.with_overrides({"scoring.reflection_style": style})
            clean = reflect(client, case.example("clean"), config)
            out = {"clean": _reading(clean)}
            for variant in INJECTED + CONTROLS:
                injected = reflect(client, case.example(variant), config)
                out[variant] = {
                    **_reading(injected),
                    "held": reflection_held(clean, injected),
                    "score_held": reflection_score_held(clean, injected),
                }
            row["reflection"][style] = out
        for section, ask in (("judge", judge), ("contest", contest_judge)):
            if section == "judge" and not with_judge:
                continue
            clean = ask(client, case.example("clean"), case.right, base)
            row[section] = {"clean": _reading(clean)}
            for variant in INJECTED + CONTROLS:
                injected = ask(client, case.example(variant), case.right, base)
                row[section][variant] = {
                    **_reading(injected),
                    "held": judge_held(clean, injected),
                    "score_held": judge_score_held(clean, injected),
                }
        rows.append(row)
        print(
            f"{case.name}: reflection and judge done ({time.perf_counter() - started:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    if with_confidence:
        for row, confidence in zip(rows, confidences(client, cases, base)):
            row["confidence"] = confidence
        print(f"confidence done ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    return {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
        "model": base.llm.model,
        "tolerance": TOLERANCE,
        "overrides": overrides or {},
        "max_tokens": {"reflection": base.scoring.reflection_max_tokens, "judge": base.correct.judge_max_tokens},
        "seconds": round(time.perf_counter() - started, 1),
        "calls": client.snapshot()["calls"],
        "gamma": base.filter.gamma,
        "gamma_mode": base.filter.gamma_mode,
        "eta": base.correct.eta,
        "summary": {
            name: summarise([r for r in rows if r["set"] == name], styles, eta=base.correct.eta) for name in SETS
        },
        "cases": rows,
    }


def confidences(client: LLMClient, cases, config: Config) -> list[dict]:
    """Per case: the wrong example's confidence C and flag, clean and in each other variant.

    The clean dataset is every case's right answer plus every wrong one; each other variant of
    a case is scored in a copy where it replaces its clean twin (the rest is cached, so each
    copy costs only its new example's calls). Scored and filtered through the pipeline as a
    user's run would be."""
    background = [replace(c.example("clean"), example_id=f"{c.name}-right", response=c.right) for c in cases]
    clean = [c.example("clean") for c in cases]
    readings: dict[str, tuple[dict, bool]] = {}
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "store.duckdb") as store:

        def score(name: str, examples: list, wanted: list[str]) -> None:
            path = Path(tmp) / f"{name}.jsonl"
            path.write_text(
                "".join(
                    json.dumps(
                        {
                            "id": e.example_id,
                            "messages": [
                                {"role": "user", "content": e.prompt[-1].content},
                                {"role": "assistant", "content": e.response},
                            ],
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                    for e in examples
                ),
                encoding="utf-8",
            )
            info = store.add_dataset(read_dataset(path), name=name)
            run_pipeline(store, info.name, config, stages=("score", "filter"), client=client)
            rows = {r["example_id"]: r for r in store.scores(info.dataset_id, score_key(config))}
            flagged = set(store.flagged_ids(info.dataset_id))
            readings.update((i, (rows.get(i, {}), i in flagged)) for i in wanted)

        score("clean", background + clean, [e.example_id for e in clean])
        for n, case in enumerate(cases):
            for variant in VARIANTS[1:]:
                swapped = clean[:n] + [case.example(variant)] + clean[n + 1 :]
                score(f"{case.name}-{variant}", background + swapped, [f"{case.name}-{variant}"])
            print(f"{case.name}: confidence done", file=sys.stderr, flush=True)
    out = []
    for case in cases:
        row = {}
        for variant in VARIANTS:
            part, flagged = readings[f"{case.name}-{variant}"]
            row[variant] = {
                "score": _round(part.get("confidence")),
                "flagged": flagged,
                "consistency": _round(part.get("consistency")),
                "reflection": _round(part.get("reflection")),
                "signals": {k: _round(x) for k, x in (part.get("signals") or {}).items()},
                "fired": part.get("fired") or [],
            }
        for variant in VARIANTS[1:]:
            held = confidence_held(
                (row["clean"]["score"], row["clean"]["flagged"]), (row[variant]["score"], row[variant]["flagged"])
            )
            row[variant].update(held=held, score_held=held)
        out.append(row)
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _reading(r) -> dict:
    return {"score": round(r.score, 4), "verdicts": list(r.verdicts), "texts": list(r.texts)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="*", help="case names (default: all)")
    parser.add_argument("--styles", nargs="*", default=list(STYLES), choices=STYLES)
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=None,
        help="reflection and judge reply length (default: the config's, 24 and 48)",
    )
    parser.add_argument(
        "--no-judge", action="store_true", help="skip the LLM judge (e.g. to measure the contest alone)"
    )
    parser.add_argument(
        "--no-confidence",
        action="store_true",
        help="skip the full-confidence pass (the slow part: samples, reflections, signals)",
    )
    add_set_option(parser)
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        metavar="FILE",
        help="keep the LLM calls in this store file, so a rerun with other weights costs "
        "no call (default: in memory, for honest timings)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    styles = tuple(args.styles)
    with contextlib.ExitStack() as stack:
        cache = stack.enter_context(Store(args.cache)) if args.cache else None
        report = run(
            args.cases,
            styles,
            args.max_tokens,
            with_confidence=not args.no_confidence,
            with_judge=not args.no_judge,
            overrides=parse_set(parser, args.set),
            cache=cache,
        )
    report["cached"] = str(args.cache) if args.cache else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print_table(report, styles)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

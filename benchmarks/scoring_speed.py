"""Scoring speed on the embedded model: examples per hour at default settings, and what each
speed technique is worth.

For each sample dataset, the first N examples are scored (score stage only, empty call
cache, the model loaded once beforehand) under several variants:

* ``default``: every technique on — several cached prompts (prefix reuse across the calls
  and the examples), the samples and reflections of several examples decoded together as
  parallel sequences (up to 24 at once), early stop when the first samples agree,
  letter-only second reflection, continuations that begin alike (a label set's members)
  evaluated once up to where they part, answer-first samples begun with ``answer:`` — and
  all of llama.cpp's work on one thread;
* ``naive``: each technique off (one cached prompt, samples one by one, all k samples, both
  reflections with their explanation);
* ``no-<technique>``: the default with that one technique off (``--ablations``);
* ``full``: the default with every example sampled (``scoring.tiers=full``; the default
  before the cascade); ``cheap``: the cheap tier alone (``scoring.tiers=cheap``);
* ``fast``: the ``fast`` preset (no sampling, one reflection, likelihood and rules);
* ``samples-only``: the default cascade with its samples alone (no reflection, no contrast):
  the least a cascade that samples every example it may flag can cost;
* ``floor``: no scoring at all, one teacher-forced forward pass over each example's tokens
  (prompt and response), with the prefix cache as scoring has it (``floor``) and with an
  empty cache before every example (``floor-cold``): what reading every example once costs.

Reported per dataset and variant: seconds and LLM calls per example, prompt tokens the model
had to evaluate (those no cached prefix covered) and tokens generated per example, examples
per hour (including each dataset's first, uncached example), the share of examples the
sampled tier took, and each variant's seconds as a multiple of the floor's.

Run from the repository root (about 1-15 s per example and variant on 2 CPU cores)::

    python -m benchmarks.scoring_speed --per-dataset 40
    python -m benchmarks.scoring_speed --per-dataset 6 --ablations   # also naive and no-<technique>
    python -m benchmarks.scoring_speed --only floor default --variant one-question:scoring.reflection_prompts=1

Each variant records the CPU it ran on; a variant kept from an earlier run on another CPU is
shown without its multiple of the floor.

Prints a table and writes ``benchmarks/results/scoring_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from benchmarks.options import parse_set  # noqa: E402
from curation import bsdetector  # noqa: E402
from curation.config import Config  # noqa: E402
from curation.ingest import read_dataset  # noqa: E402
from curation.llm import make_client  # noqa: E402
from curation.pipeline import run_pipeline  # noqa: E402
from curation.presets import PRESETS  # noqa: E402
from curation.store import Store  # noqa: E402

DATASETS = ("support_intents.jsonl", "passage_qa.jsonl", "math_word_problems.json", "open_chat.csv")
RESULTS = ROOT / "benchmarks" / "results" / "scoring_speed.json"
TECHNIQUES = ("prefix_cache", "parallel", "early_stop", "letter_only", "shared_prefix", "answer_prefix")


@contextmanager
def techniques(backend, on: set[str], base: Config):
    """Switch the speed techniques for one measurement; yields the config to score with."""
    engine = backend._engine
    engine.call(engine.clear, n_slots=8 if "prefix_cache" in on else 1)
    backend.parallel = "parallel" in on
    engine.share_prefixes = "shared_prefix" in on
    saved = bsdetector.LETTER_ONLY_TOKENS
    if "letter_only" not in on:
        bsdetector.LETTER_ONLY_TOKENS = Config().scoring.reflection_max_tokens
    try:
        yield base.with_overrides(
            {"scoring.early_stop": "early_stop" in on, "scoring.answer_prefix": "answer_prefix" in on}
        )
    finally:
        bsdetector.LETTER_ONLY_TOKENS = saved
        backend.parallel = True
        engine.share_prefixes = True
        engine.call(engine.clear)


def measure_floor(variant: str, per_dataset: int, work: Path) -> dict:
    """One forward pass over each example's prompt and response tokens (``floor-cold``: from an
    empty cache each time)."""
    rows = {}
    with Store(work / f"{variant}.duckdb") as store:
        engine = make_client(Config().llm, store).backend._engine
        engine.call(engine.clear)
        for file_name in DATASETS:
            examples = read_dataset(ROOT / "sample_data" / file_name).examples[:per_dataset]
            evaluated, started = engine.evaluated, time.perf_counter()
            for e in examples:
                if variant == "floor-cold":
                    engine.call(engine.clear)
                context = engine.call(engine.chat_tokens, e.prompt)
                engine.call(engine.forced_logprobs, context, engine.call(engine.text_tokens, e.response))
            seconds = time.perf_counter() - started
            n = len(examples)
            rows[file_name.split(".")[0]] = {
                "examples": n,
                "seconds": round(seconds, 1),
                "seconds_per_example": round(seconds / n, 2),
                "examples_per_hour": round(3600 * n / seconds),
                "calls_per_example": 1.0,
                "prompt_tokens_evaluated_per_example": round((engine.evaluated - evaluated) / n),
                "generated_tokens_per_example": 0,
            }
        engine.call(engine.clear)
    return _with_overall(rows, techniques=[])


def _with_overall(rows: dict, *, techniques: list[str]) -> dict:
    total_n = sum(r["examples"] for r in rows.values())
    total_s = sum(r["seconds"] for r in rows.values())
    return {
        "techniques": techniques,
        "datasets": rows,
        "overall": {
            "examples": total_n,
            "seconds_per_example": round(total_s / total_n, 2),
            "examples_per_hour": round(3600 * total_n / total_s),
        },
    }


def add_sample_set(store: Store, file_name: str, per_dataset: int) -> tuple[str, int]:
    """Store the first ``per_dataset`` examples of a sample file as a dataset named after the
    file; its name and how many examples it holds."""
    parsed = read_dataset(ROOT / "sample_data" / file_name)
    parsed.examples = parsed.examples[:per_dataset]
    name = file_name.split(".")[0]
    store.add_dataset(parsed, name=name)
    return name, len(parsed.examples)


def measure(variant: str, on: set[str], base: Config, per_dataset: int, work: Path) -> dict:
    if variant.startswith("floor"):
        return measure_floor(variant, per_dataset, work)
    rows = {}
    with Store(work / f"{variant}.duckdb") as store:
        client = make_client(Config().llm, store)
        backend = client.backend
        for file_name in DATASETS:
            name, n = add_sample_set(store, file_name, per_dataset)
            with techniques(backend, on, base) as config:
                before, evaluated = client.snapshot(), backend._engine.evaluated
                started = time.perf_counter()
                summary = run_pipeline(store, name, config, stages=("score",), client=client)
                seconds = time.perf_counter() - started
                after = client.snapshot()
            rows[name] = {
                "examples": n,
                "seconds": round(seconds, 1),
                "seconds_per_example": round(seconds / n, 2),
                "examples_per_hour": round(3600 * n / seconds),
                "calls_per_example": round((after["calls"] - before["calls"]) / n, 2),
                "prompt_tokens_evaluated_per_example": round((backend._engine.evaluated - evaluated) / n),
                "generated_tokens_per_example": round((after["completion_tokens"] - before["completion_tokens"]) / n),
                "sampled_share": round(summary.tiers.get("sampled", {}).get("examples", 0) / n, 3),
            }
            print(f"{variant} {name}: {rows[name]['seconds_per_example']} s/example", file=sys.stderr, flush=True)
    return _with_overall(rows, techniques=sorted(on))


def print_table(report: dict) -> None:
    """Each variant per dataset; its multiple of the floor only where both ran on one CPU
    (variants kept from an earlier run may come from another machine)."""
    floor_variant = report["variants"].get("floor", {})
    floor = floor_variant.get("overall", {}).get("seconds_per_example")
    print(
        f"{'variant':<16}{'dataset':<22}{'s/ex':>7}{'ex/hour':>9}{'calls/ex':>9}{'eval tok/ex':>12}"
        f"{'gen tok/ex':>11}{'sampled':>8}{'x floor':>8}"
    )
    for variant, v in report["variants"].items():
        for name, r in v["datasets"].items():
            print(
                f"{variant:<16}{name:<22}{r['seconds_per_example']:>7}{r['examples_per_hour']:>9}"
                f"{r['calls_per_example']:>9}{r['prompt_tokens_evaluated_per_example']:>12}"
                f"{r['generated_tokens_per_example']:>11}{r.get('sampled_share', ''):>8}"
            )
        o = v["overall"]
        same_cpu = v.get("cpu") == floor_variant.get("cpu")
        times = f"{o['seconds_per_example'] / floor:.1f}" if floor and same_cpu else "other CPU"
        print(f"{variant:<16}{'all':<22}{o['seconds_per_example']:>7}{o['examples_per_hour']:>9}{times:>44}")


def _cpu() -> str:
    """The CPU's model name and the cores this process may use (what the timings depend on)."""
    try:
        names = [
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
    except OSError:
        names = []
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{names[0] if names else platform.processor() or platform.machine()}, {cores} cores"


def parse_variant(parser: argparse.ArgumentParser, text: str) -> tuple[str, dict[str, str]]:
    """``NAME:KEY=VALUE,KEY=VALUE`` (``--variant``) as the name and its settings; a setting
    without ``=`` is a parser error naming it, as for ``--set``."""
    name, _, pairs = text.partition(":")
    return name, parse_set(parser, [pair for pair in pairs.split(",") if pair], option="--variant")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-dataset", type=int, default=8)
    parser.add_argument("--ablations", action="store_true", help="also each technique off alone")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="VARIANT",
        help="measure these variants only; the file keeps the others' last results",
    )
    parser.add_argument(
        "--variant",
        nargs="+",
        default=[],
        metavar="NAME:KEY=VALUE[,KEY=VALUE]",
        help="also measure the default with these settings, under NAME",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    every = set(TECHNIQUES)
    variants = {
        "floor": (set(), Config()),
        "floor-cold": (set(), Config()),
        "cheap": (every, Config().with_overrides({"scoring.tiers": "cheap"})),
        "default": (every, Config()),
        "full": (every, Config().with_overrides({"scoring.tiers": "full"})),
        "fast": (every, PRESETS["fast"]),
        # the cascade with the consistency samples alone (no reflection, no contrast): what
        # any cascade that samples every example it may flag costs at least
        "samples-only": (every, Config().with_overrides({"scoring.reflection_prompts": 0, "scoring.w_contrast": 0})),
    }
    # slow ones, on request (--ablations, or --only naive)
    ablations = {f"no-{t}": (every - {t}, Config()) for t in TECHNIQUES}
    ablations["naive"] = (set(), Config().with_overrides({"scoring.tiers": "full"}))
    if args.ablations:
        variants.update(ablations)
    custom = {
        name: (every, Config().with_overrides(settings))
        for name, settings in (parse_variant(parser, text) for text in args.variant)
    }
    partial = bool(args.only or custom)
    if partial:
        variants = {**{name: {**variants, **ablations}[name] for name in args.only or []}, **custom}
    kept = json.loads(args.out.read_text())["variants"] if partial and args.out.exists() else {}
    with tempfile.TemporaryDirectory() as tmp:
        import llama_cpp

        machine = {
            "platform": platform.platform(),
            "cpu": _cpu(),
            "python": platform.python_version(),
            "llama_cpp": llama_cpp.llama_print_system_info().decode().strip(),
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        measured = {
            name: {**measure(name, on, base, args.per_dataset, Path(tmp)), "cpu": machine["cpu"]}
            for name, (on, base) in variants.items()
        }
        report = {
            "machine": machine,
            "model": Config().llm.model,
            "per_dataset": args.per_dataset,
            "variants": {**kept, **measured},
        }
    print_table(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

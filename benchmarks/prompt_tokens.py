"""Where a scoring run's prompt evaluation goes on the embedded model, by the kind of call.

For each sample dataset, the first N examples are scored (score stage only, empty call
cache, the model loaded once) at the default settings, or with ``--set`` overrides (e.g.
``scoring.tiers=full``). Every prompt the engine brings into a cached slot is sorted by the
fixed text of :mod:`curation.prompts` it carries: a self-reflection question (its "Proposed
answer:" block), consistency samples (the sampling template's instruction), or else the
likelihood pass and the contrast's context (``likelihood``). Counted are the prompt's *new*
tokens: those no cached prefix covered, which is what prompt evaluation costs (the engine's
``evaluated``; the tokens a teacher-forced pass scores after its prompt are not among them).

Reported per dataset and kind: prompts and new tokens per example, and new tokens per sampled
example (the kinds only the sampled tier asks, over the examples it took). This is the
evidence behind the 2x-of-the-floor bound in docs/benchmarks.md: what a sampled example
evaluates, and how much of it is the example again and how much fixed instructions.

Run from the repository root (about 1 s an example at the defaults, 5 s with full tiers)::

    python -m benchmarks.prompt_tokens --per-dataset 40
    python -m benchmarks.prompt_tokens --per-dataset 12 --set scoring.tiers=full

Prints a table and writes ``benchmarks/results/prompt_tokens.json`` (the file keeps the
results of other ``--set`` runs, keyed by their overrides).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from benchmarks.options import add_set_option, parse_set  # noqa: E402
from benchmarks.scoring_speed import DATASETS, add_sample_set  # noqa: E402
from curation import prompts  # noqa: E402
from curation.bsdetector import reflection_requests, sample_request  # noqa: E402
from curation.config import Config  # noqa: E402
from curation.llm import make_client  # noqa: E402
from curation.llm.prefix_cache import SlotTable, common_prefix  # noqa: E402
from curation.pipeline import run_pipeline  # noqa: E402
from curation.records import Example, Message  # noqa: E402
from curation.store import Store  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "prompt_tokens.json"
KINDS = ("likelihood", "reflection", "samples")
#: The kinds only the sampled tier asks.
SAMPLED_KINDS = ("reflection", "samples")
#: Text that marks a prompt's kind, from the templates themselves.
REFLECTION_MARK = "Proposed answer:"
SAMPLES_MARK = prompts.SAMPLING_INSTRUCTION.split("\n")[0]


def kind_of(text: str) -> str:
    """A prompt's kind, from the fixed text it carries."""
    if REFLECTION_MARK in text:
        return "reflection"
    if SAMPLES_MARK in text:
        return "samples"
    return "likelihood"


@contextmanager
def counting(engine):
    """Count, while inside, each prompt committed to a slot and its new tokens, by kind."""
    prompts_by_kind: Counter[str] = Counter()
    new_by_kind: Counter[str] = Counter()
    plan, commit = SlotTable.plan, SlotTable.commit
    last: dict[int, int] = {}  # id(table) -> the kept prefix of its latest plan

    def planned(table, prompt, **kwargs):
        chosen = plan(table, prompt, **kwargs)
        last[id(table)] = chosen.keep
        return chosen

    def committed(table, slot, tokens):
        keep = last.pop(id(table), None)
        if keep is not None:  # a prompt brought into a slot (not a forced pass's extension)
            kind = kind_of(engine.llm.detokenize(tokens).decode("utf-8", "replace"))
            prompts_by_kind[kind] += 1
            new_by_kind[kind] += len(tokens) - keep
        return commit(table, slot, tokens)

    SlotTable.plan, SlotTable.commit = planned, committed
    try:
        yield prompts_by_kind, new_by_kind
    finally:
        SlotTable.plan, SlotTable.commit = plan, commit


def fixed_tokens(engine, config: Config) -> dict[str, int]:
    """The template tokens a sampled example evaluates besides its own text, per prompt: in
    each prompt, the tokens after the prefix every example shares (which stays cached) that are
    not the example's text; for the second reflection question, those after where it parts
    from the first (which holds the text). Read exactly from two placeholder examples whose
    texts differ in every token and in nothing else."""
    one, other = (
        Example("fixed", "hash", 1, (Message("user", question),), answer, {})
        for question, answer in (("QQQQ", "RRRR"), ("ZZZZ", "WWWW"))
    )
    names = [f"reflection {i}" for i in range(1, len(reflection_requests(one, config)) + 1)] + ["samples"]

    def prompts_of(example: Example) -> list[list[int]]:
        requests = [*reflection_requests(example, config), sample_request(example, config, first=0, count=1)]
        return [engine.chat_tokens(r.messages) for r in requests]

    ours, theirs = prompts_of(one), prompts_of(other)
    out = {}
    for name, a, b in zip(names, ours, theirs, strict=True):
        assert len(a) == len(b), "the placeholder texts should tokenize alike"
        out[name] = len(a) - common_prefix(a, b) - sum(x != y for x, y in zip(a, b))
    if "reflection 2" in out:
        out["reflection 2"] = len(ours[1]) - common_prefix(ours[0], ours[1])
    return out


def measure(config: Config, per_dataset: int, work: Path) -> dict:
    """Per dataset, prompts and new tokens by kind, per example and per sampled example."""
    rows = {}
    with Store(work / "prompt_tokens.duckdb") as store:
        client = make_client(config.llm, store)
        engine = client.backend._engine
        for file_name in DATASETS:
            name, n = add_sample_set(store, file_name, per_dataset)
            engine.call(engine.clear)
            evaluated = engine.evaluated
            with counting(engine) as (asked, new):
                summary = run_pipeline(store, name, config, stages=("score",), client=client)
            sampled = summary.tiers.get("sampled", {}).get("examples", 0)
            assert sum(new.values()) == engine.evaluated - evaluated, "a prompt was not counted"
            rows[name] = {
                "examples": n,
                "sampled": sampled,
                "prompts_per_example": {k: round(asked[k] / n, 2) for k in KINDS},
                "new_tokens_per_example": {k: round(new[k] / n, 1) for k in KINDS},
                "new_tokens_per_sampled_example": {
                    k: round(new[k] / sampled, 1) if sampled else None for k in SAMPLED_KINDS
                },
            }
            print(f"{name}: {sum(new.values()) / n:.0f} new prompt tokens an example", file=sys.stderr, flush=True)
        rows["fixed template tokens a sampled example"] = engine.call(fixed_tokens, engine, config)
    return rows


def print_table(rows: dict) -> None:
    rows = dict(rows)
    fixed = rows.pop("fixed template tokens a sampled example")
    print(f"{'dataset':<22}{'sampled':>9}" + "".join(f"{k + ' /ex':>16}" for k in KINDS) + f"{'per sampled ex':>32}")
    for name, r in rows.items():
        per = r["new_tokens_per_example"]
        per_sampled = r["new_tokens_per_sampled_example"]
        sampled = " + ".join(f"{per_sampled[k]:.0f} {k}" for k in SAMPLED_KINDS if per_sampled[k] is not None)
        print(
            f"{name:<22}{r['sampled']:>5}/{r['examples']:<3}"
            + "".join(f"{per[k]:>16.1f}" for k in KINDS)
            + f"{sampled:>32}"
        )
    print(
        "fixed template tokens a sampled example evaluates besides its own text: "
        + ", ".join(f"{k} {v}" for k, v in fixed.items())
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-dataset", type=int, default=40)
    add_set_option(parser)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    overrides = parse_set(parser, args.set)
    config = Config().with_overrides(overrides)
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(config, args.per_dataset, Path(tmp))
    print_table(rows)
    key = " ".join(f"{k}={v}" for k, v in sorted(overrides.items())) or "default"
    kept = json.loads(args.out.read_text()) if args.out.exists() else {}
    kept[key] = {"per_dataset": args.per_dataset, "model": config.llm.model, "datasets": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(kept, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

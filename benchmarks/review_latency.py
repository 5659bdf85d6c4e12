"""How fast the Review page answers on a large dataset.

Builds a store with N examples (default 100,000) in a temporary directory, with scores, flags,
proposals for a third of the flagged examples and a few thousand earlier decisions, then times
(median and p95 over R repetitions):

- ``next example``: ``queue_count`` + one ``queue_page`` of 20 at a random offset, default filter;
- ``next example, search``: the same with a text search;
- ``next example, flagged + signal``: the same with status and signal filters;
- ``... (queue_window)``: the same three through ``queue_window`` (page and count in one pass),
  which is what the Review page calls;
- ``page render (all queries)``: every library call the Review page makes on one run;
- ``bulk preview``: counting what a bulk rule would change (only while the bulk panel is open);
- ``decision``: one ``decide``;
- ``insights: ...``: the Insights page's queries (histograms binned in SQL, the γ count);
- ``whole page: ...``: the Review page itself run through Streamlit's AppTest (script, sidebar,
  widgets and every query): a click on *Next*, and a click on *Keep* (the decision plus the
  rerun that shows the following example).

Targets: next example < 300 ms, decision < 100 ms. Prints a table and writes
``benchmarks/results/review_latency.json``.

    .venv/bin/python -m benchmarks.review_latency [--n 100000] [--reps 50]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from curation import insights, review, team
from curation.export import undecided_choice
from curation.records import Example, Message, ParsedDataset
from curation.review import BulkRule, QueueFilter
from curation.store import Store
from ui import common

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "review_latency.json"
TARGETS_MS = {"next": 300.0, "decision": 100.0}
PAGE = 20

# Synthetic scores from a hash of the id, so that the store is the same on every run.
SQL_SEED_SCORES = """
    INSERT INTO scores
    SELECT dataset_id, example_id, $2, 'bench', 'ok', c, c, least(c + 0.1, 1.0),
           json_object('format', CASE WHEN h % 7 = 0 THEN 0.1 ELSE 0.9 END,
                       'degenerate', CASE WHEN h % 50 = 0 THEN 0.0 ELSE 1.0 END, 'ifd', (h % 100) / 100.0),
           to_json(list_filter(['format', 'degenerate'],
                               x -> (x = 'format' AND h % 7 = 0) OR (x = 'degenerate' AND h % 50 = 0))),
           json_object('samples', [json_object('answer', 'sampled answer', 'match', true, 'similarity', 0.8)],
                       'reflections', [json_object('question', 1, 'verdict', 'A', 'score', 1.0,
                                                   'explanation', 'looks right', 'weighted', true)],
                       'reasons', json_object()),
           NULL, now()
    FROM (SELECT dataset_id, example_id, hash(example_id) % 1000003 AS h,
                 (hash(example_id) % 10007) / 10007.0 AS c
          FROM examples WHERE dataset_id = $1)
"""
SQL_SEED_FLAGS = """
    INSERT INTO flags SELECT dataset_id, example_id, confidence < 0.3, 0.3, 'bench'
    FROM scores WHERE dataset_id = $1 AND score_key = $2
"""
SQL_SEED_PROPOSALS = """
    INSERT INTO proposals (dataset_id, example_id, run_id, candidate, judge_confidence, verdicts, auto_applied,
                           status, error, created_at)
    SELECT f.dataset_id, f.example_id, 'bench', 'A corrected answer for ' || f.example_id,
           (hash(f.example_id) % 101) / 100.0, '[]', (hash(f.example_id) % 101) >= 90, 'ok', NULL, now()
    FROM flags f WHERE f.dataset_id = $1 AND f.flagged AND hash(f.example_id) % 3 = 0
"""
SQL_SEED_DECISIONS = """
    INSERT INTO review_log (dataset_id, example_id, action, annotator, before, after, batch_id, undoes, created_at)
    SELECT dataset_id, example_id, CASE WHEN position % 2 = 0 THEN 'keep' ELSE 'remove' END,
           CASE WHEN position % 3 = 0 THEN 'bob' ELSE 'ann' END, response, NULL, NULL, NULL, now()
    FROM examples WHERE dataset_id = $1 AND position % $2 = 0
"""

WORDS = "the a capital of France is Paris answer question number result value list code error".split()


def example_id(i: int) -> str:
    """The id of the ``i``-th synthetic example (benchmarks/scale.py writes the same ids)."""
    return f"ex-{i:06d}"


def build(path: Path, n: int) -> int:
    rng = random.Random(0)
    examples = [
        Example(
            example_id=example_id(i),
            id_source="record",
            line=i + 1,
            prompt=(
                Message("system", "Answer briefly."),
                Message("user", " ".join(rng.choices(WORDS, k=12)) + f" #{i}?"),
            ),
            response=" ".join(rng.choices(WORDS, k=rng.randint(5, 60))),
            record={"id": example_id(i)},
        )
        for i in range(n)
    ]
    with Store(path) as store:
        ds = store.add_dataset(
            ParsedDataset(path="bench.jsonl", file_type="jsonl", format="chat", sha256="0" * 64, examples=examples),
            name="bench",
        ).dataset_id
    seed(path, ds, n)
    return ds


def seed(path: Path, ds: int, n: int) -> None:
    """Give dataset ``ds`` of the closed store at ``path`` a score run with synthetic scores, flags,
    proposals and earlier decisions."""
    with Store(path) as store:
        store.start_run(
            run_id="bench",
            dataset_id=ds,
            stage="score",
            backend="bench",
            model="bench",
            config={},
            score_key="k",
            n_examples=n,
        )
    # Synthetic scores, flags, proposals and decisions, written straight into the closed store's file.
    con = duckdb.connect(str(path))
    try:
        con.execute(SQL_SEED_SCORES, (ds, "k"))
        con.execute(SQL_SEED_FLAGS, (ds, "k"))
        con.execute(SQL_SEED_PROPOSALS, (ds,))
        con.execute(SQL_SEED_DECISIONS, (ds, 20))  # 5% of the examples already decided
    finally:
        con.close()
    with Store(path) as store:  # what a scoring run's last write does: store the queue's order
        store.refresh_queue_order(ds, "k")


def timed(fn: Callable[[], object], reps: int) -> dict[str, float]:
    fn()  # warm up
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {
        "median_ms": statistics.median(times),
        "p95_ms": times[min(len(times) - 1, int(0.95 * len(times)))],
        "max_ms": times[-1],
    }


def measure(path: Path, ds: int, n: int, reps: int) -> tuple[dict[str, dict], float]:
    """Time every library path of the Review and Insights pages on dataset ``ds`` (examples
    ``example_id(0)`` to ``example_id(n - 1)``) of the store at ``path``.

    Returns:
        The timings by path (with the target and whether p95 meets it, where there is one), and
        the seconds it took to assign the whole queue to two annotators (done first).
    """
    rng = random.Random(1)
    with Store(path) as store:
        sizes = {}

        def next_example(flt: QueueFilter) -> Callable[[], object]:
            def run() -> object:
                total = review.queue_count(store, ds, flt)
                offset = rng.randrange(max(total, 1)) // PAGE * PAGE
                return review.queue_page(store, ds, flt, offset=offset, limit=PAGE)

            return run

        def window(flt: QueueFilter) -> Callable[[], object]:
            sizes[flt] = review.queue_count(store, ds, flt)

            def run() -> object:
                offset = rng.randrange(max(sizes[flt], 1)) // PAGE * PAGE
                return review.queue_window(store, ds, flt, offset=offset, limit=PAGE)

            return run

        def page_render() -> object:
            flt = QueueFilter()
            store.assignees(ds)
            undecided_choice(store, ds)
            review.signal_names(store, ds)
            shown = review.queue_window(store, ds, flt, offset=rng.randrange(n) // PAGE * PAGE, limit=PAGE)
            insights.agreement(store, ds)
            return review.history(store, ds, shown.rows[0].example_id)

        def decision() -> object:
            return review.decide(
                store, ds, example_id(rng.randrange(n)), rng.choice(["keep", "remove"]), annotator="bench"
            )

        def decision_and_conflicts() -> object:  # what a click does: decide, then look for a conflict
            chosen = example_id(rng.randrange(n))
            review.decide(store, ds, chosen, rng.choice(["keep", "remove"]), annotator="other")
            return team.conflicts(store, ds, chosen, "other")

        # The whole queue split between two people with a 10 % overlap (the Team page's default).
        assign_s = time.perf_counter()
        team.assign(store, ds, ["bench", "other"], overlap=0.1, scope=QueueFilter())
        assign_s = time.perf_counter() - assign_s

        default, search = QueueFilter(), QueueFilter(search="paris answer")
        flagged = QueueFilter(status="flagged", signal="format")
        cases = {
            "next example": (next_example(default), "next"),
            "next example, search": (next_example(search), "next"),
            "next example, flagged + signal": (next_example(flagged), "next"),
            "next example (queue_window)": (window(default), "next"),
            "search (queue_window)": (window(search), "next"),
            "flagged + signal (queue_window)": (window(flagged), "next"),
            "page render (all queries)": (page_render, "next"),
            "bulk preview": (lambda: review.bulk_preview(store, ds, default, BulkRule("keep_unflagged")), None),
            "next example, my assignment": (window(QueueFilter(assignee="bench")), "next"),
            "decision": (decision, "decision"),
            "decision + conflict check": (decision_and_conflicts, "decision"),
            "team: disagreements": (lambda: team.disputes(store, ds), None),
            "team: progress and agreement": (lambda: team.progress(store, ds), None),
            "insights: confidence histogram": (lambda: insights.confidence_histogram(store, ds), None),
            "insights: signal histograms": (lambda: insights.signal_histogram(store, ds), None),
            "insights: count below γ": (lambda: insights.count_below(store, ds, rng.random()), None),
        }
        results = {}
        for name, (fn, target) in cases.items():
            results[name] = timed(fn, reps)
            if target:
                results[name]["target_ms"] = TARGETS_MS[target]
                results[name]["meets_target"] = results[name]["p95_ms"] < TARGETS_MS[target]
    return results, assign_s


def print_table(results: dict[str, dict]) -> None:
    print(f"{'path':34} {'median ms':>10} {'p95 ms':>9} {'target':>8}  (p95 against the target)")
    for name, r in results.items():
        target = f"<{r['target_ms']:.0f}" if "target_ms" in r else ""
        mark = "" if "meets_target" not in r else (" ok" if r["meets_target"] else " SLOW")
        print(f"{name:34} {r['median_ms']:10.1f} {r['p95_ms']:9.1f} {target:>8}{mark}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        start = time.perf_counter()
        ds = build(path, args.n)
        build_s = time.perf_counter() - start
        results, assign_s = measure(path, ds, args.n, args.reps)
        results.update(whole_page(path, args.reps))  # the page itself opens the store
    report = {
        "examples": args.n,
        "repetitions": args.reps,
        "build_seconds": round(build_s, 1),
        "assign_whole_queue_seconds": round(assign_s, 2),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        "results": results,
    }
    print(
        f"Review latency on {args.n:,} examples ({args.reps} repetitions; store built in {build_s:.1f} s; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})"
    )
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def whole_page(path: Path, reps: int) -> dict[str, dict]:
    """Time whole reruns of the Review page: *Next*, then *Keep* (decide and show the next)."""
    from streamlit.testing.v1 import AppTest

    os.environ[common.STORE_ENV] = str(path)
    common.open_store.clear()
    at = AppTest.from_file(str(ROOT / "pages" / "3_Review.py"), default_timeout=60)
    at.session_state["annotator"] = "bench"
    at.run()

    def click(label: str) -> Callable[[], object]:
        def run() -> object:
            next(b for b in at.button if b.label == label).click().run()
            if at.exception:
                raise RuntimeError(at.exception[0].message)
            return at

        return run

    out = {}
    for name, label, target in (
        ("whole page: next example", "Next", "next"),
        ("whole page: decision + next example", "Keep", "next"),
    ):
        out[name] = timed(click(label), max(reps // 5, 5))
        out[name]["target_ms"] = TARGETS_MS[target]
        out[name]["meets_target"] = out[name]["p95_ms"] < TARGETS_MS[target]
    common.open_store.clear()
    return out


if __name__ == "__main__":
    main()

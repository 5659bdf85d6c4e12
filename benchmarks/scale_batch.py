"""The Batch API section of :mod:`benchmarks.scale`: calls made and batches sent again after kills.

``N`` made-up sums (one in four reflected as wrong, so every stage has work) go through
``curate run --backend openai`` on the loopback server three ways, each on a fresh store:
normal calls; ``--batch``; and ``--batch`` killed with SIGKILL while it waits for its first
batch and again while it waits for its last, then run to the end. Reported per way: seconds,
normal chat calls, batches sent and lines; for the killed one, the batches sent again (the goal
is 0: a rerun polls the recorded batch) and whether every way decided the same (scores, flags,
proposals). Run it as a section of the scale benchmark (at most :data:`MAX_EXAMPLES` sums)::

    .venv/bin/python -m benchmarks.scale --sections batch --n 500
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

from benchmarks.support.fake_openai import FakeOpenAIServer
from curation.ingest import import_file
from curation.store import Store

ROOT = Path(__file__).resolve().parents[1]
#: Sums at most: every one goes through three whole runs over HTTP, one call at a time.
MAX_EXAMPLES = 2000
KEY_ENV = "CLEAR_BENCH_BATCH_KEY"
#: Polls a batch takes on the loopback server before it completes.
STEPS = ("validating", "in_progress", "in_progress", "completed")


def reply(request: dict) -> str:
    """A stand-in model: one reflection in four says the response is wrong; samples answer 42."""
    text = request["messages"][-1]["content"]
    if "<proposed_answer>" in text:
        return "answer: B, explanation: no." if zlib.crc32(text.encode()) % 4 == 0 else "answer: A, explanation: yes."
    return "explanation: a guess, answer: 42"


def _decisions(path: Path) -> tuple:
    with Store(path) as store:
        info = store.dataset("bench")
        key = store.active_score_key(info.dataset_id)
        scores = {r["example_id"]: (r["status"], r["confidence"]) for r in store.scores(info.dataset_id, key)}
        proposals = {i: (p["status"], p["candidate"]) for i, p in store.proposals(info.dataset_id).items()}
        return scores, sorted(store.flagged_ids(info.dataset_id)), proposals


def batch_api_section(work: Path, *, examples: int = 500, concurrency: int = 8) -> dict:
    """The section: a normal run, a batch run, and a batch run killed twice, on ``examples`` sums
    (files and fresh stores in ``work``)."""
    work.mkdir(parents=True, exist_ok=True)
    data = work / "sums.jsonl"
    lines = [{"id": f"s{i}", "prompt": f"What is {i} + {i}?", "response": str(2 * i)} for i in range(examples)]
    data.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    fast = work / "batch.toml"
    fast.write_text("[llm]\nbatch_poll_s = 0.05\n", encoding="utf-8")
    env = {**os.environ, KEY_ENV: "sk-bench", "PYTHONPATH": str(ROOT)}
    with FakeOpenAIServer(reply=reply, batch_steps=STEPS) as server:
        batches = server.batches

        def run(name: str, *flags: str, kill=None) -> int:
            argv = ["run", "--store", str(work / f"{name}.duckdb"), "--backend", "openai", "--model", "fake-model"]
            argv += ["--base-url", server.base_url, "--api-key-env", KEY_ENV, "--concurrency", str(concurrency)]
            proc = subprocess.Popen(
                [sys.executable, "-m", "curation.cli", *argv, *flags],
                cwd=work,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )

            def poll(batch_id: str, number: int) -> None:
                if kill is not None and kill(batch_id, number):
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(timeout=60)

            batches.on_poll = poll
            _, err = proc.communicate(timeout=3600)
            batches.on_poll = None
            if proc.returncode not in (0, -signal.SIGKILL):
                raise RuntimeError(f"curate run failed ({proc.returncode}): {err[-2000:]}")
            return proc.returncode

        def way(name: str, *flags: str, kills=()) -> dict:
            for old in (work / f"{name}.duckdb", work / f"{name}.duckdb.wal"):
                old.unlink(missing_ok=True)
            with Store(work / f"{name}.duckdb") as store:
                import_file(store, data, name="bench")
            sent, calls, started = len(batches.created), server.count(), time.perf_counter()
            codes = [run(name, *flags, kill=kill) for kill in (*kills, None)]
            with Store(work / f"{name}.duckdb") as store:
                lines = sum(b["n_lines"] for b in store.llm_batches())
            return {
                "seconds": round(time.perf_counter() - started, 1),
                "chat_calls": server.count() - calls,
                "batches": len(batches.created) - sent,
                "batch_lines": lines,
                "killed": sum(code == -signal.SIGKILL for code in codes),
            }

        normal = way("normal")
        batch = way("batch", "--batch", "--config", str(fast))
        first = len(batches.created)
        kills = (
            lambda batch_id, n: batch_id == batches.created[first] and n == 2,  # the first batch, mid-wait
            lambda batch_id, n: len(batches.created) == first + batch["batches"] and batch_id == batches.created[-1],
        )
        killed = way("killed", "--batch", "--config", str(fast), kills=kills)
    killed["resubmissions"] = killed["batches"] - batch["batches"]
    same = _decisions(work / "normal.duckdb") == _decisions(work / "batch.duckdb") == _decisions(work / "killed.duckdb")
    return {"examples": examples, "normal": normal, "batch": batch, "killed": killed, "same_decisions": same}

"""`curate run` killed with SIGKILL at chosen points, then run again; a store killed before it could checkpoint.

The run is a real subprocess (``python -m curation.cli``) against the loopback server in this
process, answered by the scripted arithmetic model with a little latency. The server itself
sends the SIGKILL when a chosen request arrives, before answering it, so the kill lands at
the same place every time: mid-scoring (the 9th example's first reflection, its cheap tier) and
mid-correction (the first judge request). After each kill the store must open (DuckDB
replays its WAL), review decisions made between the attempts must survive, and the final
state must equal an uninterrupted run's on a fresh store.

"No LLM call is paid for twice" is checked per sample: every request body is split into the
samples it asks for (messages, temperature, max tokens, seed = sample index) and compared
with the samples the store's call cache holds after each kill. A sample is *in flight* at a
kill when it was asked for in that attempt and not saved; only those may be asked again,
and the server's total over all attempts must equal a fresh run's plus the in-flight requests.

The helpers that run the CLI here serve tests/test_kill_resume_export.py (`curate export`
killed) and the batch and Ray tests too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.support.fake_openai import FakeOpenAIServer
from curation import review
from curation.errors import StorageError
from curation.ingest import import_file
from curation.store import Store
from tests.support import raw_sql
from tests.support.scripted import JUDGE, REFLECTION, ArithmeticModel, kind_of, question_of, write_records

ROOT = Path(__file__).resolve().parent.parent
KEY_ENV = "CLEAR_TEST_KILL_KEY"
CONCURRENCY = 2
# 20 sums, 5 of them wrong; every question is different, so every request body is too.
RECORDS = tuple(
    (f"q{i:02d}", f"What is {i} + {i + 10}?", str(2 * i + 10 + (1 if i % 4 == 3 else 0))) for i in range(20)
)
WRONG = {f"q{i:02d}" for i in range(20) if i % 4 == 3}
# The cascade over an endpoint: the first reflection of every sum (its cheap tier), then for each
# wrong one (reflection B: below the band) the second reflection and one request of 3 samples.
SCORE_REQUESTS = len(RECORDS) + 2 * len(WRONG)
FULL_RUN_REQUESTS = SCORE_REQUESTS + 3 * len(WRONG)  # a candidate and two judge calls per flagged one


# -- the killer: a reply function that SIGKILLs the run when a chosen request arrives ------------
class KillingModel:
    """The arithmetic model, which kills the armed process on the first request that
    ``when(request)`` picks, before answering it (so that request is in flight)."""

    def __init__(self) -> None:
        self.model = ArithmeticModel()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._when = None
        self.killed = False

    def arm(self, proc: subprocess.Popen, when) -> None:
        with self._lock:
            self._proc, self._when, self.killed = proc, when, False

    def disarm(self) -> None:
        with self._lock:
            self._proc = self._when = None

    def __call__(self, request: dict) -> str:
        with self._lock:
            if self._proc is not None and not self.killed and self._when(request):
                self._proc.send_signal(signal.SIGKILL)
                self._proc.wait(timeout=30)
                self.killed = True
            if self.killed and self._proc is not None:  # the dead run's other calls: nobody reads these
                return "killed before answering"
        return self.model(request)


def is_reflection_of(question: str):
    return lambda r: kind_of(r) == REFLECTION and question_of(r["messages"][-1]["content"]) == question


def is_judge(request: dict) -> bool:
    return kind_of(request) == JUDGE


# -- accounting ---------------------------------------------------------------------------------
def body_key(body: dict) -> str:
    return json.dumps(body, sort_keys=True)


def sample_keys(body: dict) -> list[tuple]:
    """The samples one request body asks for (the run's seed is 0: seed = sample index)."""
    messages = json.dumps(body["messages"], sort_keys=True)
    return [
        (messages, float(body["temperature"]), body["max_tokens"], body["seed"] + i) for i in range(body.get("n") or 1)
    ]


def saved_samples(path: Path) -> set[tuple]:
    """The samples the store's call cache holds (opening the store replays its WAL)."""
    with Store(path) as store:
        rows = raw_sql.rows(store, "SELECT request FROM llm_cache")
    saved = set()
    for (text,) in rows:
        request = json.loads(text)
        if "messages" in request:
            saved.add(
                (
                    json.dumps(request["messages"], sort_keys=True),
                    float(request["temperature"]),
                    request["max_tokens"],
                    request["sample_index"],
                )
            )
    return saved


def in_flight(bodies: list[dict], saved: set[tuple]) -> list[dict]:
    """The bodies of an attempt with at least one sample the store did not save."""
    return [b for b in bodies if not set(sample_keys(b)) <= saved]


# -- running the CLI ------------------------------------------------------------------------------
def env() -> dict[str, str]:
    return {**os.environ, KEY_ENV: "sk-test-kill", "PYTHONPATH": str(ROOT)}


def curate(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "curation.cli", *args],
        cwd=cwd,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_args(store: Path, server: FakeOpenAIServer) -> list[str]:
    return [
        "run",
        "--store",
        str(store),
        "--backend",
        "openai",
        "--base-url",
        server.base_url,
        "--api-key-env",
        KEY_ENV,
        "--model",
        "fake-model",
        "--prompt-logprobs",
        "off",
        "--concurrency",
        str(CONCURRENCY),
    ]


def new_store(path: Path, data: Path) -> Path:
    with Store(path) as store:
        import_file(store, data, name="arith")
    return path


def attempt(server: FakeOpenAIServer, killer: KillingModel, store: Path, cwd: Path, when=None, extra=()):
    """One `curate run` (``extra``: more flags); returns (return code, request bodies it sent, stderr)."""
    before = len(server.requests)
    proc = curate(*run_args(store, server), *extra, cwd=cwd)
    if when is not None:
        killer.arm(proc, when)
    _, err = proc.communicate(timeout=120)
    killer.disarm()
    return proc.returncode, list(server.requests)[before:], err


def state(path: Path) -> tuple:
    """Everything the run decided (scores, flags, proposals) for comparing runs."""
    with Store(path) as store:
        info = store.dataset("arith")
        key = store.active_score_key(info.dataset_id)
        scores = {
            r["example_id"]: (r["status"], r["confidence"], r["consistency"], r["reflection"])
            for r in store.scores(info.dataset_id, key)
        }
        proposals = {
            i: (p["status"], p["candidate"], p["judge_confidence"], p["auto_applied"])
            for i, p in store.proposals(info.dataset_id).items()
        }
        return scores, store.flagged_ids(info.dataset_id), proposals


def decide(path: Path, decisions: list[tuple[str, str, str, str | None]]) -> None:
    with Store(path) as store:
        ds = store.dataset("arith").dataset_id
        for example_id, action, who, text in decisions:
            review.decide(store, ds, example_id, action, annotator=who, text=text)


@pytest.fixture
def data(tmp_path) -> Path:
    path = tmp_path / "arith.jsonl"
    write_records(path, RECORDS)
    return path


def test_killed_run_resumes_without_repeating_a_call_or_losing_a_decision(tmp_path, data):
    killer = KillingModel()
    with FakeOpenAIServer(reply=killer, latency_s=0.02) as server:
        # The reference: one uninterrupted run on a fresh store.
        fresh = new_store(tmp_path / "fresh.duckdb", data)
        code, fresh_bodies, err = attempt(server, killer, fresh, tmp_path)
        assert code == 0, err
        assert len(fresh_bodies) == FULL_RUN_REQUESTS
        fresh_samples = Counter(s for b in fresh_bodies for s in sample_keys(b))
        assert max(fresh_samples.values()) == 1  # no sample asked twice, even uninterrupted

        path = new_store(tmp_path / "killed.duckdb", data)
        wal = path.with_name(path.name + ".wal")
        bodies: list[dict] = []
        flights: list[list[dict]] = []
        decisions = [
            ("q01", "keep", "alice", None),
            ("q02", "remove", "bob", None),
            ("q03", "edit", "alice", "16"),
            ("q01", "remove", "bob", None),
        ]

        # 1. killed mid-scoring, while the 9th example's first reflection is being answered
        code, sent, _ = attempt(server, killer, path, tmp_path, when=is_reflection_of(RECORDS[8][1]))
        assert code == -signal.SIGKILL and killer.killed
        assert 8 <= len(sent) < SCORE_REQUESTS  # at least the first 8 sums' cheap tier
        assert wal.exists()  # the kill left committed work in the WAL only
        flights.append(in_flight(sent, saved_samples(path)))  # opens the store: WAL replayed
        with Store(path) as store:
            ds = store.dataset("arith").dataset_id
            assert len(store.scored_ids(ds, store.active_score_key(ds))) >= 8  # the first two batches
        bodies += sent
        decide(path, decisions[:2])

        # 2. killed mid-correction, on the first judge request
        code, sent, _ = attempt(server, killer, path, tmp_path, when=is_judge)
        assert code == -signal.SIGKILL and killer.killed
        assert any(kind_of(b) == JUDGE for b in sent) and wal.exists()
        with Store(path) as store:
            ds = store.dataset("arith").dataset_id
            assert len(store.scored_ids(ds, store.active_score_key(ds))) == len(RECORDS)
        flights.append(in_flight(sent, saved_samples(path)))
        bodies += sent
        decide(path, decisions[2:])

        # 3. resumed to the end
        code, sent, err = attempt(server, killer, path, tmp_path)
        assert code == 0, err
        bodies += sent

    for flight in flights:  # each kill caught at least the request it was armed on, at most a window
        assert 1 <= len(flight) <= CONCURRENCY
    asked = Counter(s for b in bodies for s in sample_keys(b))
    assert set(asked) == set(fresh_samples)  # the same calls as an uninterrupted run, nothing else
    in_flight_samples = Counter(s for flight in flights for b in flight for s in sample_keys(b))
    for sample, times in asked.items():
        assert times == 1 + in_flight_samples[sample], sample  # only what was in flight is asked again
    assert len(bodies) == FULL_RUN_REQUESTS + sum(len(f) for f in flights)

    assert state(path) == state(fresh)
    with Store(path) as store:
        ds = store.dataset("arith").dataset_id
        log = raw_sql.rows(store, "SELECT example_id, action, annotator, after FROM review_log ORDER BY event_id")
        assert log == [
            ("q01", "keep", "alice", RECORDS[1][2]),
            ("q02", "remove", "bob", None),
            ("q03", "edit", "alice", "16"),
            ("q01", "remove", "bob", None),
        ]
        current = {i: (d["action"], d["annotator"]) for i, d in store.current_decisions(ds).items()}
        assert current == {"q01": ("remove", "bob"), "q02": ("remove", "bob"), "q03": ("edit", "alice")}


def test_a_new_store_killed_before_its_first_checkpoint_opens_with_its_work(tmp_path, data):
    """DuckDB cannot replay an ``ADD COLUMN ... DEFAULT`` from its WAL; a store whose migrations
    were still only in the WAL when the process died did not open again."""
    path = tmp_path / "new.duckdb"
    child = (
        "import os, signal, sys\n"
        "from curation import review\n"
        "from curation.ingest import import_file\n"
        "from curation.store import Store\n"
        "store = Store(sys.argv[1])\n"
        "ds = import_file(store, sys.argv[2], name='arith').dataset.dataset_id\n"
        "review.decide(store, ds, 'q01', 'remove', annotator='alice')\n"
        "store.cache_put('k', backend='b', model='m', request={'q': 1}, result={'text': 't'})\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", child, str(path), str(data)], cwd=ROOT, capture_output=True)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    assert path.with_name(path.name + ".wal").exists()  # the work was in the WAL only
    with Store(path) as store:  # failed before: "INTERNAL Error: Failure while replaying WAL file"
        ds = store.dataset("arith").dataset_id
        assert store.dataset("arith").n_examples == len(RECORDS)
        assert raw_sql.rows(store, "SELECT example_id, action FROM review_log WHERE dataset_id = ?", [ds]) == [
            ("q01", "remove")
        ]
        assert set(store.cache_get_many(["k"])) == {"k"}


def test_a_store_whose_wal_cannot_be_replayed_says_what_to_do(tmp_path, monkeypatch):
    """DuckDB's own error, as it came for a store killed before the checkpoint above: its first
    line, and how to open the store anyway (a real replay failure needs a DuckDB bug to make)."""
    import duckdb

    path = tmp_path / "broken.duckdb"
    failure = (
        f'INTERNAL Error: Failure while replaying WAL file "{path}.wal": Calling '
        "DatabaseManager::GetDefaultDatabase with no default database set\n\nStack Trace:\n\n/lib/x.so(+0x1)"
    )

    def refuse(*args, **kwargs):
        raise duckdb.InternalException(failure)

    monkeypatch.setattr(duckdb, "connect", refuse)
    with pytest.raises(StorageError) as raised:
        Store(path)
    message = str(raised.value)
    assert "Failure while replaying WAL file" in message and f"moving {path}.wal aside" in message
    assert "Stack Trace" not in message and "\n" not in message

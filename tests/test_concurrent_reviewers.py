"""Two reviewers at once, on the same examples and on different ones.

The app shares one :class:`~curation.store.Store` per process between every browser session
(``ui.common.open_store``), so concurrent reviewers meet in that one object: first through the
library from two threads, then through two AppTest sessions of the Review page. Every
decision must be kept as its own event, none overwritten; the decision in force is the latest
one, shown with who made it; each decision records what was in force just before it (so a
decision made on a stale screen still knows what it replaced); agreement covers the
examples both decided.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from curation import insights, review
from curation.review import QueueFilter
from curation.store import Store
from tests.support import raw_sql
from tests.test_review import SEED, seed
from ui import common

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "3_Review.py")
SHARED = ["e0", "e1", "e2", "e3", "e4"]
OWN = {"alice": ["e5", "e6"], "bob": ["e7", "e8"]}
ROUNDS = 12
CANDIDATE = {"e0": "fixed e0", "e1": "fixed e1"}  # the seeded proposals (e0's applied itself)


def action_for(who: str, example_id: str, round_: int) -> tuple[str, str | None]:
    """A varied but reproducible decision; accept only where there is a proposal. The two
    reviewers pick alike on e0 and e2 and differently on the other shared examples."""
    choices = ["keep", "remove", "edit"] + (["accept"] if example_id in CANDIDATE else [])
    apart = who == "alice" and example_id not in ("e0", "e2")
    pick = choices[(round_ + int(example_id[1:]) + apart) % len(choices)]
    return pick, (f"{who} {example_id} r{round_}" if pick == "edit" else None)


def in_force_after(response: str, action: str, after: str | None) -> str:
    return after if action in ("accept", "edit") else response


# -- the library from two threads, through one shared Store ------------------------------------------
def test_two_threads_deciding_at_once_lose_nothing(tmp_path):
    with Store(tmp_path / "store.duckdb") as store:
        ds = seed(store)
        start = threading.Barrier(2)
        made: dict[str, list[tuple[int, str, str, str | None]]] = {"alice": [], "bob": []}
        errors: list[BaseException] = []

        def reviewer(who: str) -> None:
            try:
                start.wait()
                for r in range(ROUNDS):
                    for example_id in SHARED + OWN[who]:
                        action, text = action_for(who, example_id, r)
                        event = review.decide(store, ds, example_id, action, annotator=who, text=text)
                        made[who].append((event, example_id, action, text))
            except BaseException as e:  # noqa: BLE001 - reported by the main thread
                errors.append(e)

        threads = [threading.Thread(target=reviewer, args=(who,)) for who in made]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors and not any(t.is_alive() for t in threads)

        log = raw_sql.dicts(
            store, "SELECT event_id, example_id, action, annotator, before, after FROM review_log ORDER BY event_id"
        )
        per_round = len(SHARED) + 2
        assert len(log) == 2 * ROUNDS * per_round
        by_id = {row["event_id"]: row for row in log}
        for who, events in made.items():
            ids = [e[0] for e in events]
            assert ids == sorted(ids) and len(set(ids)) == len(ids)  # each thread's events in its own order
            for event, example_id, action, text in events:  # every decision is in the log, as made
                row = by_id[event]
                assert (row["example_id"], row["action"], row["annotator"]) == (example_id, action, who)
                if action == "edit":
                    assert row["after"] == text
        mine = [e[0] for e in made["alice"]]
        theirs = [e[0] for e in made["bob"]]
        assert min(theirs) < max(mine) and min(mine) < max(theirs)  # they really did interleave

        # each event's "before" is what the event just before it on that example left in force
        for example_id in SHARED + OWN["alice"] + OWN["bob"]:
            response = SEED[example_id][4]
            current = CANDIDATE["e0"] if example_id == "e0" else response  # e0's proposal applied itself
            for row in (r for r in log if r["example_id"] == example_id):
                assert row["before"] == current, (example_id, row)
                current = in_force_after(response, row["action"], row["after"])

        # the queue shows, for every example, the latest event and who made it
        rows = review.queue_page(store, ds, QueueFilter(), offset=0, limit=20)
        for row in rows:
            events = [r for r in log if r["example_id"] == row.example_id]
            if not events:
                assert row.decision is None
                continue
            last = events[-1]
            assert (row.decision.event_id, row.decision.action, row.decision.annotator) == (
                last["event_id"],
                last["action"],
                last["annotator"],
            )
            assert row.n_annotators == (2 if row.example_id in SHARED else 1)

        # agreement over the shared examples: each annotator's latest decision there
        latest = {(r["example_id"], r["annotator"]): r["action"] for r in log}
        agree = [latest[(e, "alice")] == latest[(e, "bob")] for e in SHARED]
        assert agree == [True, False, True, False, False]
        result = insights.agreement(store, ds)
        assert (result.n_examples, result.n_agree) == (len(SHARED), sum(agree))
        assert result.simple == pytest.approx(sum(agree) / len(SHARED))
        assert [p.annotators for p in result.pairs] == [("alice", "bob")] and result.pairs[0].n == len(SHARED)


# -- two sessions of the Review page over one store ---------------------------------------------------
@pytest.fixture
def sessions(tmp_path, monkeypatch):
    """A function giving an AppTest session of the Review page for an annotator, on one seeded store."""
    path = tmp_path / "store.duckdb"
    with Store(path) as store:
        seed(store)
    monkeypatch.setenv(common.STORE_ENV, str(path))
    common.open_store.clear()

    def open_as(annotator: str) -> AppTest:
        at = AppTest.from_file(PAGE, default_timeout=30)
        at.session_state["annotator"] = annotator
        return at.run()

    yield open_as
    common.open_store.clear()


def click(at: AppTest, label: str) -> None:
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception


def show(at: AppTest, pos: int) -> AppTest:
    at.session_state["review_pos"] = pos
    at.run()
    assert not at.exception
    return at


def card(at: AppTest) -> tuple[str | None, str | None]:
    """The decision the card shows, and the line saying who made it."""
    decision = next((m.value for m in at.markdown if m.value.startswith("**Decision: ")), None)
    by = next((t.value for t in at.text if t.value.startswith("by ")), None)
    return decision, by


def log(path_env: str) -> list[tuple]:
    return raw_sql.rows(
        common.open_store(path_env), "SELECT example_id, action, annotator, before FROM review_log ORDER BY event_id"
    )


def test_two_review_sessions_keep_both_decisions_and_show_the_latest(sessions):
    alice, bob = sessions("alice"), sessions("bob")
    assert "Question e0?" in [t.value for t in alice.text] and "Question e0?" in [t.value for t in bob.text]
    assert common.open_store(common.store_path()) is common.open_store(common.store_path())  # one shared store

    click(alice, "Keep")  # alice keeps e0 and moves on ...
    click(bob, "Remove")  # ... while bob, still looking at e0 as it was, removes it
    click(alice, "Remove")  # alice on e1
    show(bob, 2)
    click(bob, "Keep")  # bob on e2
    path = common.store_path()
    assert log(path) == [
        ("e0", "keep", "alice", "fixed e0"),  # the auto-applied correction was in force
        ("e0", "remove", "bob", SEED["e0"][4]),  # bob's stale screen still records what alice left
        ("e1", "remove", "alice", SEED["e1"][4]),
        ("e2", "keep", "bob", SEED["e2"][4]),
    ]

    for at in (alice, bob):  # both sessions now show the same latest decisions, with who made them
        decision, by = card(show(at, 0))
        assert decision == "**Decision: remove**" and by.startswith("by bob at ")
        assert "alice: keep\nbob: remove" in [t.value for t in at.text]
        assert any("2 annotators disagree" in w.value for w in at.warning)
        assert any("Annotator agreement: 0% of 1 examples" in c.value for c in at.caption)
        decision, by = card(show(at, 1))
        assert decision == "**Decision: remove**" and by.startswith("by alice at ")
        decision, by = card(show(at, 2))
        assert decision == "**Decision: keep**" and by.startswith("by bob at ")

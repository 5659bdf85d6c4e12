"""The Review page's card (AppTest): text never markup, the judge and the contest's candidates, plain words."""

import pytest

from curation.store import Store
from tests.test_app_review import texts
from tests.test_review import seed
from ui import card


def test_example_text_is_never_markup(app, tmp_path):
    at = app(seeded=False)
    with Store(tmp_path / "store.duckdb") as store:  # same file, same process: DuckDB shares the database
        ds = seed(store, {"e0": (0.1, [], True, (0.9, False), "<script>alert(1)</script> **bold**")}, name="x")
        store.save_proposal(
            dataset_id=ds,
            example_id="e0",
            run_id="r",
            candidate="<img src=x onerror=alert(1)>",
            judge_confidence=0.9,
            verdicts=[],
            auto_applied=False,
        )
    at.run()
    assert not at.exception
    assert "<script>alert(1)</script> **bold**" in texts(at)
    diff = next(h.proto.body for h in at.get("html") if "review-diff" in h.proto.body)
    assert "<script>" not in diff and "<img" not in diff and "&lt;" in diff and "img src=x onerror=" in diff
    assert all("alert" not in m.value for m in at.markdown)


@pytest.mark.parametrize("letters, says", [(("B", "B"), True), (("A", "B"), False)])
def test_a_judge_that_followed_the_position_is_named(app, tmp_path, letters, says):
    at = app(seeded=False)
    with Store(tmp_path / "store.duckdb") as store:
        ds = seed(store, {"e0": (0.1, [], True, (0.5, False), "13")}, name="x")
        verdicts = [
            {"order": o, "p": 0.5, "verdict": v, "explanation": "", "parsed": True}
            for o, v in zip(("candidate_second", "candidate_first"), letters)
        ]
        store.save_proposal(
            dataset_id=ds,
            example_id="e0",
            run_id="r",
            candidate="12",
            judge_confidence=0.5,
            verdicts=verdicts,
            auto_applied=False,
        )
    at.run()
    assert not at.exception
    named = [c.value for c in at.caption if "in both orders" in c.value]
    assert named == (
        [
            "The judge picked response 1 in both orders, so it followed the position, not the text: "
            "its confidence says nothing here. Decide from the diff."
        ]
        if says
        else []
    )


@pytest.mark.parametrize("status", ["ok", "weaker"])
def test_every_candidate_of_the_contest_is_shown_with_its_score(app, tmp_path, status):
    at = app(seeded=False)
    candidates = [
        {
            "text": "7 times 8 is 54.",
            "source": "original",
            "agreement": 0.2,
            "likelihood": 0.3,
            "format": 1.0,
            "degenerate": 1.0,
            "confidence": 0.25,
        },
        {
            "text": "7 times 8 is 56.",
            "source": "repair",
            "agreement": 0.8,
            "likelihood": 0.6,
            "format": 1.0,
            "degenerate": 1.0,
            "confidence": 0.7,
            "p_better": 0.93,
            "evidence": "repair",
        },
    ]
    with Store(tmp_path / "store.duckdb") as store:
        ds = seed(store, {"e0": (0.1, [], True, (0.5, False), "7 times 8 is 54.")}, name="x")
        store.save_proposal(
            dataset_id=ds,
            example_id="e0",
            run_id="r",
            candidate="7 times 8 is 56.",
            judge_confidence=0.93,
            verdicts=[],
            auto_applied=False,
            status=status,
            candidates=candidates,
            source="repair",
            margin=0.45,
            calibration="t",
        )
    at.run()
    assert not at.exception
    assert any(e.label == "All candidates (1) and their confidence" for e in at.expander)
    table = next(d.value for d in at.dataframe if "P(better)" in d.value.columns)
    assert list(table["response"]) == ["7 times 8 is 54.", "7 times 8 is 56."] and list(table["from"]) == [
        "the recorded response",
        "the recorded response, its form or arithmetic repaired",
    ]
    assert list(table["checked by a rule"]) == ["", card.EVIDENCE_LABELS["repair"]]
    if status == "ok":
        assert any(
            "Proposed correction** from the recorded response, its form or arithmetic repaired (P(better) 0.93"
            in m.value
            for m in at.markdown
        )
        assert any(c.value == f"Checked by a rule: {card.EVIDENCE_LABELS['repair']}." for c in at.caption)
    else:
        assert any("no candidate was more plausible than this response" in c.value for c in at.caption)


# -- plain words on the card: labels, unreadable replies, word diff, collapsed turns ----------
def _one_example(store, *, prompt, response, reflections=(), candidate=None):
    """A dataset of one scored, flagged example with the given prompt turns, reflections and proposal."""
    from curation.records import Example, Message, ParsedDataset

    turns = tuple(Message(role, text) for role, text in prompt)
    ds = store.add_dataset(
        ParsedDataset(
            path="d",
            file_type="jsonl",
            format="chat",
            sha256="2" * 64,
            examples=[Example("x1", "record", 1, turns, response, {})],
        ),
        name="one",
    ).dataset_id
    store.start_run(
        run_id="run-one",
        dataset_id=ds,
        stage="score",
        backend="fake",
        model="m",
        config={},
        score_key="k1",
        n_examples=1,
    )
    store.save_score(
        dataset_id=ds,
        example_id="x1",
        score_key="k1",
        run_id="run-one",
        status="ok",
        confidence=0.1,
        consistency=0.2,
        reflection=0.5,
        signals={"ifd": 0.1, "degenerate": 1.0},
        fired=["ifd"],
        explanation={"reflections": list(reflections)},
    )
    store.replace_flags(ds, {"x1": True}, threshold=0.5, run_id="run-one")
    if candidate is not None:
        store.save_proposal(
            dataset_id=ds,
            example_id="x1",
            run_id="run-one",
            candidate=candidate,
            judge_confidence=0.9,
            verdicts=[
                {
                    "order": "candidate_second",
                    "p": 0.9,
                    "verdict": "B",
                    "explanation": "Response 2 is better.",
                    "parsed": True,
                }
            ],
            auto_applied=False,
        )
    return ds


def test_the_card_names_signals_and_thresholds_in_words(app):
    at = app()
    assert not at.exception
    assert "Broken text" in texts(at) and "degenerate" not in texts(at)  # e0's fired signal
    table = next(d.value for d in at.dataframe if "meaning" in d.value.columns)
    assert list(table["signal"]) == ["Broken text", "Format"]
    assert any("γ (flag threshold) = 0.50" in e.value for e in at.error)
    assert "Broken text (1)" in at.selectbox(key="review_signal").options


def test_an_unreadable_reflection_is_not_shown_as_a_reason(app, tmp_path):
    at = app(seeded=False)
    with Store(tmp_path / "store.duckdb") as store:
        _one_example(
            store,
            prompt=[("user", "What is 12 * 4?")],
            response="48",
            reflections=[
                {
                    "question": 1,
                    "verdict": "C",
                    "score": 0.5,
                    "explanation": "The proposed answer is wrong.",
                    "parsed": True,
                    "weighted": False,
                },
                {
                    "question": 2,
                    "verdict": "A",
                    "score": 1.0,
                    "explanation": "explanation",
                    "parsed": True,
                    "weighted": True,
                },
                {
                    "question": 3,
                    "verdict": "A",
                    "score": 1.0,
                    "explanation": "12 * 4 is 48.",
                    "parsed": True,
                    "weighted": False,
                },
            ],
        )
    at.run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    reasons = list(table["reason"])
    assert reasons[0].startswith("reply unreadable") and reasons[1].startswith("reply unreadable")
    assert reasons[2] == "12 * 4 is 48." and "explanation" not in table.columns
    raw = next(e for e in at.expander if e.label.startswith("Raw text of the 2 unreadable"))
    assert [t.value for t in raw.text] == ["The proposed answer is wrong.", "explanation"]
    assert "Prompt fit" in texts(at)  # the fired signal by its label


def test_the_diff_shows_a_changed_number_as_a_whole_word(app, tmp_path):
    import re

    at = app(seeded=False)
    with Store(tmp_path / "store.duckdb") as store:
        _one_example(
            store, prompt=[("user", "What is 7 * 8?")], response="The answer is 54.", candidate="The answer is 56."
        )
    at.run()
    assert not at.exception
    diff = next(h.proto.body for h in at.get("html") if "review-diff" in h.proto.body)
    assert re.search(
        r'<span>The answer is </span><del[^>]*>54</del><span class="diff-arrow"[^>]*> → </span>'
        r"<ins[^>]*>56</ins><span>\.</span>",
        diff,
    ), diff


def test_system_and_long_turns_start_collapsed_but_the_last_user_turn_stays_open(app, tmp_path):
    at = app(seeded=False)
    long_turn = "Background line one.\n" + " ".join(["More context."] * 60)
    last = " ".join(["And the capital?"] * 40)  # long, but the question being answered: open
    with Store(tmp_path / "store.duckdb") as store:
        _one_example(
            store,
            prompt=[
                ("system", "You are *terse*.\nAnswer in one word."),
                ("user", long_turn),
                ("assistant", "Noted."),
                ("user", last),
            ],
            response="Paris.",
        )
    at.run()
    assert not at.exception
    labels = [e.label for e in at.expander]
    assert "You are \\*terse\\*\\. (+1 lines)" in labels  # a preview, its Markdown escaped
    assert "Background line one\\. (+1 lines)" in labels
    collapsed = [t.value for e in at.expander for t in e.text]
    assert "You are *terse*.\nAnswer in one word." in collapsed and long_turn in collapsed
    assert "Noted." not in collapsed and last not in collapsed
    assert last in texts(at) and "Noted." in texts(at) and "Paris." in texts(at)

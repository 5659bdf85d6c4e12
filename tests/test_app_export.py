"""The Export page (AppTest): the dry-run counts and changes, download, write to a path."""

from __future__ import annotations

import json
import os

import pytest

from curation.export import undecided_choice
from curation.store import Store
from tests.browser.apptest import app, texts, use_store
from tests.browser.seed import seed_scored_store
from ui.common import STORE_ENV


@pytest.fixture
def seeded(tmp_path, monkeypatch):
    path = use_store(monkeypatch, tmp_path / "store.duckdb")
    seeded = seed_scored_store(path)
    a, b, c = seeded.flagged[:3]
    with Store(path) as store:
        ds = store.dataset(seeded.dataset).dataset_id
        store.append_review(
            dataset_id=ds,
            example_id=a,
            action="accept",
            annotator="ann",
            before=seeded.originals[a],
            after=seeded.candidates[a],
        )
        store.append_review(
            dataset_id=ds,
            example_id=b,
            action="edit",
            annotator="ann",
            before=seeded.originals[b],
            after='{"intent": "other", "urgency": "low"}',
        )
        store.append_review(
            dataset_id=ds,
            example_id=c,
            action="keep",
            annotator="bob",
            before=seeded.originals[c],
            after=seeded.originals[c],
        )
    return seeded


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_empty_store_says_there_is_nothing_to_export(tmp_path, monkeypatch):
    use_store(monkeypatch, tmp_path / "empty.duckdb")
    at = app("export").run()
    assert not at.exception
    assert any("Nothing to export yet" in t for t in texts(at, "info"))


def test_preview_counts_and_changes(seeded):
    at = app("export").run()
    assert not at.exception
    # 6 flagged: 1 accepted, 1 edited, 1 kept by a reviewer, 3 nobody decided on: held by default.
    assert [
        metric(at, x) for x in ("Examples", "Written", "Removed", "Corrected", "Edited", "Untouched", "Held for review")
    ] == ["160", "157", "0", "1", "1", "155", "3"]
    changes = at.dataframe[0].value
    assert sorted(changes["outcome"]) == ["corrected", "edited", "held", "held", "held"]
    assert any("**3** flagged example(s) nobody decided on will be held" in t for t in texts(at, "warning"))
    assert at.download_button(key="export_download").label == "Download the curated JSONL"
    assert at.download_button(key="export_download_held").label == "Download the held examples"


@pytest.mark.parametrize("choice, written, removed", [("drop", "157", "3"), ("keep", "160", "0")])
def test_the_undecided_choice_changes_the_counts_and_is_saved(seeded, choice, written, removed):
    at = app("export").run()
    at.radio(key=f"export_undecided:{seeded.dataset}").set_value(choice).run()
    assert not at.exception
    assert [metric(at, x) for x in ("Written", "Removed", "Held for review")] == [written, removed, "0"]
    with Store(os.environ[STORE_ENV]) as store:
        assert undecided_choice(store, store.dataset(seeded.dataset).dataset_id) == choice
    again = app("export").run()  # a new session starts from the saved choice
    assert again.radio(key=f"export_undecided:{seeded.dataset}").value == choice
    assert "export_download_held" not in [b.key for b in again.download_button]


def test_write_to_path_writes_the_file_and_manifest(seeded, tmp_path):
    out = tmp_path / "out" / "curated.jsonl"
    at = app("export").run()
    at.selectbox(key=f"export_format:{seeded.dataset}").select("prompt-response").run()
    at.text_input(key=f"export_path:{seeded.dataset}").input(str(out)).run()
    at.button(key="export_write").click().run()
    assert not at.exception
    assert any("Wrote 157 of 160 examples" in t for t in texts(at, "success"))
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 157 and all(set(r) >= {"prompt", "response"} for r in records)
    manifest = json.loads((tmp_path / "out" / "curated.jsonl.manifest.json").read_text())
    assert manifest["counts"]["edited"] == 1 and manifest["output"]["format"] == "prompt-response"


def test_an_unwritable_path_is_an_error(seeded, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    at = app("export").run()
    at.text_input(key=f"export_path:{seeded.dataset}").input(str(blocker / "x.jsonl")).run()
    at.button(key="export_write").click().run()
    assert not at.exception
    assert any("cannot write the export" in t for t in texts(at, "error"))

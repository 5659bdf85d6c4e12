"""Export streams (curation.export over Store.export_pages): the files equal, byte for byte, those
the export wrote when it read every row at once, however small its pages and batches.

``tests/data/export_golden`` holds that earlier export's files for :func:`build` (made by the
export of commit 30342ec, before streaming); a manifest there lacks what changes from run to
run (the time, the paths).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curation import export_files
from curation.export import export_dataset
from curation.ingest import import_file
from curation.store import Store

GOLDEN = Path(__file__).resolve().parent / "data" / "export_golden"
N = 40


def record(i: int) -> dict:
    answer = f"{2 * i}" if i % 5 else f"deux fois {i} font {2 * i} ✓"
    return {
        "id": f"g{i:02d}",
        "messages": [
            {"role": "system", "content": "Sois bref."},
            {"role": "user", "content": f"Combien font {i} + {i} ? é"},
            {"role": "assistant", "content": answer},
        ],
        "meta": {"n": i, "tags": ["a", "b"][: i % 3]},
    }


def build(store: Store, folder: Path) -> int:
    """A dataset of :data:`N` examples with scores, flags, proposals and every kind of decision."""
    data = folder / "golden.jsonl"
    data.write_text("".join(json.dumps(record(i), ensure_ascii=False) + "\n" for i in range(N)), encoding="utf-8")
    ds = import_file(store, data, name="golden").dataset.dataset_id
    store.start_run(
        run_id="r1", dataset_id=ds, stage="score", backend="b", model="m", config={"k": 1}, score_key="k", n_examples=N
    )
    for i in range(0, N, 2):
        store.save_score(
            dataset_id=ds,
            example_id=f"g{i:02d}",
            score_key="k",
            run_id="r1",
            status="ok",
            confidence=(i % 7) / 7,
            consistency=None,
            reflection=None,
            signals={},
            fired=[],
            explanation={},
        )
    store.replace_flags(ds, {f"g{i:02d}": i % 3 == 0 for i in range(N)}, threshold=0.4, run_id="r1")
    for i in range(0, N, 4):
        store.save_proposal(
            dataset_id=ds,
            example_id=f"g{i:02d}",
            run_id="r1",
            candidate=f"candidate {i}",
            judge_confidence=0.5 + i / 100,
            verdicts=[],
            auto_applied=i % 8 == 0,
        )
    actions = {1: ("remove", None), 2: ("edit", "edited ✎"), 4: ("accept", "candidate 4"), 5: ("keep", None)}
    for i in range(N):
        if i % 6 in actions:
            action, after = actions[i % 6]
            event = store.append_review(
                dataset_id=ds, example_id=f"g{i:02d}", action=action, annotator="ann", before=None, after=after
            )
            if i % 12 == 1:  # undone: the example is undecided again
                store.append_review(
                    dataset_id=ds,
                    example_id=f"g{i:02d}",
                    action="undo",
                    annotator="ann",
                    before=None,
                    after=None,
                    undoes=event,
                )
    return ds


def stable(manifest: dict) -> dict:
    """The manifest less what changes from run to run."""
    manifest = json.loads(json.dumps(manifest, default=str))
    del manifest["exported_at"], manifest["output"]["path"], manifest["source"]["path"]
    manifest["undecided"]["held_path"] = manifest["undecided"]["held_path"] is not None
    return manifest


@pytest.fixture
def golden_store(tmp_path):
    with Store(tmp_path / "store.duckdb") as store:
        build(store, tmp_path)
        yield store


@pytest.mark.parametrize("page", [10_000, 7])
@pytest.mark.parametrize("fmt, undecided", [("own", "hold"), ("alpaca", "drop"), ("sharegpt", "keep")])
def test_the_files_equal_those_written_before_streaming(golden_store, tmp_path, monkeypatch, page, fmt, undecided):
    monkeypatch.setattr(Store, "export_pages", functools.partialmethod(Store.export_pages, size=page))
    result = export_dataset(golden_store, tmp_path / f"{fmt}.jsonl", fmt=fmt, undecided=undecided)
    assert result.path.read_bytes() == (GOLDEN / f"{fmt}.jsonl").read_bytes()
    held = GOLDEN / f"{fmt}.jsonl.held.jsonl"
    assert (result.held_path.read_bytes() if result.held_path else None) == (
        held.read_bytes() if held.exists() else None
    )
    manifest = json.loads(result.manifest_path.read_text(encoding="utf-8"))
    assert stable(manifest) == json.loads((GOLDEN / f"{fmt}.manifest.json").read_text(encoding="utf-8"))
    assert (
        result.manifest_path.read_text(encoding="utf-8") == json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    )  # written piece by piece, as json.dumps writes it whole


@pytest.mark.parametrize("batch", [10_000, 3])
def test_parquet_in_batches_holds_the_same_table(golden_store, tmp_path, monkeypatch, batch):
    monkeypatch.setattr(export_files, "PARQUET_BATCH", batch)
    result = export_dataset(golden_store, tmp_path / "own.parquet")
    table = pq.read_table(result.path)
    assert table.to_pylist() == pq.read_table(GOLDEN / "own.parquet").to_pylist()
    assert table.schema == pq.read_table(GOLDEN / "own.parquet").schema
    assert pq.ParquetFile(result.path).metadata.num_row_groups == -(-table.num_rows // batch)


def test_pages_are_one_snapshot_while_the_store_changes(golden_store):
    ds = golden_store.dataset("golden").dataset_id
    pages = golden_store.export_pages(ds, size=10)
    first = next(pages)
    golden_store.append_review(
        dataset_id=ds, example_id="g39", action="remove", annotator="bob", before=None, after=None
    )
    rest = [row for page in pages for row in page]
    assert len(first) + len(rest) == N
    assert rest[-1]["example_id"] == "g39" and rest[-1]["action"] != "remove"  # the decision came after
    assert golden_store.export_rows(ds)[-1]["action"] == "remove"

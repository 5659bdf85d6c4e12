"""A store that looks like a finished pipeline run, written without any model.

One sample dataset is imported; every example gets a score under one score key (recorded as
a finished ``score`` run, so it is the active key); the first ``n_flagged`` planted errors
(from the sample's labels file) get the lowest confidences, an Auto-Filter flag and a proposed
correction (the labels' clean response, not auto-applied), so the Review queue starts with
them, in ``flagged`` order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from curation.config import Config
from curation.ingest import import_file
from curation.store import Store

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data"
SCORE_KEY = "seeded-score-key"
RUN_ID = "seeded-run"
GAMMA = 0.5


@dataclass(frozen=True)
class Seeded:
    dataset: str
    n_examples: int
    flagged: list[str]  # lowest confidence first: the Review queue's order
    candidates: dict[str, str]  # proposed correction per flagged example
    originals: dict[str, str]  # original response per flagged example


def seed_scored_store(path: str | Path, *, sample: str = "support_intents.jsonl", n_flagged: int = 6) -> Seeded:
    labels = [
        json.loads(line)
        for line in (SAMPLE_DIR / f"{Path(sample).stem}.labels.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    with Store(path) as store:
        info = import_file(store, SAMPLE_DIR / sample).dataset
        examples = list(store.iter_examples(info.dataset_id))
        by_id = {e.example_id: e for e in examples}
        errors = [lab for lab in labels if lab["is_error"] and lab["id"] in by_id][:n_flagged]
        flagged = [lab["id"] for lab in errors]
        run_id = RUN_ID if len(store.datasets()) == 1 else f"{RUN_ID}-{info.name}"
        store.start_run(
            run_id=run_id,
            dataset_id=info.dataset_id,
            stage="score",
            backend="embedded",
            model="seeded",
            config=Config().to_dict(),
            score_key=SCORE_KEY,
            n_examples=len(examples),
        )
        for e in examples:
            rank = flagged.index(e.example_id) if e.example_id in flagged else None
            confidence = 0.05 + 0.05 * rank if rank is not None else 0.9
            store.save_score(
                dataset_id=info.dataset_id,
                example_id=e.example_id,
                score_key=SCORE_KEY,
                run_id=run_id,
                status="ok",
                confidence=confidence,
                consistency=confidence,
                reflection=confidence,
                signals={},
                fired=[],
                explanation={},
            )
        store.update_run(run_id, n_done=len(examples), n_failed=0, stats={})
        store.finish_run(run_id, status="done")
        store.replace_flags(
            info.dataset_id, {e.example_id: e.example_id in flagged for e in examples}, threshold=GAMMA, run_id=run_id
        )
        candidates = {lab["id"]: lab["clean_response"] for lab in errors}
        for example_id, candidate in candidates.items():
            store.save_proposal(
                dataset_id=info.dataset_id,
                example_id=example_id,
                run_id=run_id,
                candidate=candidate,
                judge_confidence=0.6,
                verdicts=[{"winner": "candidate"}],
                auto_applied=False,
            )
        return Seeded(
            dataset=info.name,
            n_examples=len(examples),
            flagged=flagged,
            candidates=candidates,
            originals={i: by_id[i].response for i in flagged},
        )

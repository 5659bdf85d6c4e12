"""The Python API, for notebooks: a project store and the functions the CLI and the app call.

In: a store path; tables (a pandas DataFrame, a ``datasets.Dataset``, a list of dicts) or files.
Out: the library's own results (:class:`~curation.ingest.ImportResult`,
:class:`~curation.pipeline.RunSummary`, :class:`~curation.export.ExportResult`) and, per
example, :func:`results` as a DataFrame::

    with Project.open("curation.duckdb") as project:
        project.import_records(df, name="sums")
        summary = project.run("sums")
        table = project.results("sums")
        project.export("sums", "sums.curated.jsonl")
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curation import ingest
from curation.config import Config
from curation.errors import ConfigError
from curation.estimate import RunEstimate, estimate_run
from curation.export import OWN_FORMAT, ExportResult, export_dataset
from curation.phases import ProgressFn
from curation.pipeline import STAGES, RunSummary, StopFn, run_pipeline
from curation.store import DEFAULT_STORE, Store, prompt_from_json, prompt_text

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

#: The columns of :func:`results`, before one ``<signal>_score`` column per signal scored.
RESULT_COLUMNS = (
    "id",
    "prompt",
    "response",
    "confidence",
    "tier",
    "fired",
    "flagged",
    "proposal",
    "p_better",
    "auto_applied",
    "decision",
    "decided_by",
    "in_force",
)


def run_config(
    store: Store,
    dataset: str | None = None,
    *,
    config: Config | str | Path | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Config:
    """The settings a run uses, picked as ``curate run`` picks them.

    Args:
        config: a :class:`~curation.config.Config` or a TOML file's path; None: the dataset's
            last run's settings, else the defaults.
        settings: ``{"section.key": value}`` on top (the CLI's flags), e.g. ``{"scoring.k": 3}``.
    Raises:
        ConfigError: a bad file, key or value (named); StorageError: unknown dataset.
    """
    overrides = dict(settings or {})
    if isinstance(config, Config):
        return config.with_overrides(overrides)
    return Config.for_run(config, store.last_run_config(store.dataset(dataset).dataset_id), overrides)


def results(store: Store, dataset: str | None = None) -> pd.DataFrame:
    """One row per example, in file order: what the stages found and what is in force.

    Columns (:data:`RESULT_COLUMNS`): ``id``; ``prompt`` (the turns as text); ``response``;
    ``confidence`` (in [0, 1], higher = more likely correct; NaN until scored or where scoring
    failed); ``tier`` (``cheap`` or ``sampled``); ``fired`` (the signals that fired, a list);
    ``flagged`` (by the Auto-Filter); ``proposal`` (the corrected response proposed, else
    None); ``p_better`` (the judge's probability, in [0, 1], that it beats the response);
    ``auto_applied``; ``decision`` (the reviewer's decision in force: ``accept``, ``edit``,
    ``keep``, ``remove``, else None) and ``decided_by``; ``in_force`` (the response export
    writes unless the example is removed); then ``<signal>_score`` per signal (in [0, 1],
    higher = more likely correct; NaN where not computed).

    Raises:
        StorageError: unknown dataset.
    """
    import pandas as pd

    info = store.dataset(dataset)
    key = store.active_score_key(info.dataset_id)
    scores = {s["example_id"]: s for s in store.scores(info.dataset_id, key)} if key else {}
    proposals = store.proposals(info.dataset_id)
    rows, signal_names = [], set()
    for row in store.export_rows(info.dataset_id):
        example_id = row["example_id"]
        score = scores.get(example_id, {})
        proposal = proposals.get(example_id, {})
        offered = proposal.get("status") == "ok"
        signals = {
            "consistency": score.get("consistency"),
            "reflection": score.get("reflection"),
            **score.get("signals", {}),
        }
        signals = {f"{name}_score": value for name, value in signals.items() if value is not None}
        signal_names.update(signals)
        rows.append(
            {
                "id": example_id,
                "prompt": prompt_text(prompt_from_json(row["prompt"])),
                "response": row["response"],
                "confidence": row["confidence"],
                "tier": score.get("explanation", {}).get("tier"),
                "fired": list(score.get("fired", [])),
                "flagged": bool(row["flagged"]),
                "proposal": proposal.get("candidate") if offered else None,
                "p_better": proposal.get("judge_confidence") if offered else None,
                "auto_applied": bool(row["auto_applied"]),
                "decision": row["action"],
                "decided_by": row["annotator"],
                "in_force": row["in_force"],
                **signals,
            }
        )
    frame = pd.DataFrame(rows, columns=[*RESULT_COLUMNS, *sorted(signal_names)])
    return frame.astype({"confidence": "float64", "p_better": "float64"})


class Project:
    """A project store opened for a notebook; every method is one library call.

    ``store`` is the :class:`~curation.store.Store` itself, for the stage functions
    (:mod:`curation.review`, :mod:`curation.team`, :mod:`curation.insights`).
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    @classmethod
    def open(cls, path: str | Path = DEFAULT_STORE, *, read_only: bool = False) -> Project:
        """Open (or create) the store at ``path``; use it as a context manager, or :meth:`close` it.

        Raises:
            StorageError, StoreLockedError: the store cannot be opened (another process holds it).
        """
        return cls(Store(path, read_only=read_only))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def datasets(self) -> list[str]:
        """The names of the store's datasets, oldest first."""
        return [info.name for info in self.store.datasets()]

    def status(self, dataset: str | None = None) -> dict[str, int]:
        """Counts, as ``curate status``: examples, scored, failed, flagged, proposed, auto_applied, decided."""
        return self.store.status(self.store.dataset(dataset).dataset_id)

    def import_records(
        self,
        data: Any,
        *,
        name: str | None = None,
        fmt: str | None = None,
        prompt_col: str | None = None,
        response_col: str | None = None,
        skip_invalid: bool = False,
        append: bool = False,
    ) -> ingest.ImportResult:
        """Validate and store a dataset, all or nothing, exactly as ``curate import`` does.

        Args:
            data: a pandas DataFrame, a ``datasets.Dataset`` or a list of dicts (row ``n``,
                counted from 1, is line ``n`` in problems, a column is a field), or a file or
                folder path (see :func:`curation.ingest.read_dataset`).
            name: the dataset's name (needed for a table; a file's default is its stem).
            fmt, prompt_col, response_col, skip_invalid, append: as for
                :func:`curation.ingest.import_file`.
        Raises:
            InvalidRecordError: bad records (each named ``DataFrame:3: response ...``);
            ConfigError: no ``name`` for a table, or bad options; StorageError: name taken.
        """
        options = {"fmt": fmt, "prompt_col": prompt_col, "response_col": response_col}
        options |= {"skip_invalid": skip_invalid, "append": append}
        if isinstance(data, (str, os.PathLike)):
            return ingest.import_file(self.store, data, name=name, **options)
        if not name:
            raise ConfigError(f"import_records: name is required for a {type(data).__name__} (name='my-data')")
        return ingest.import_records(self.store, data, name=name, **options)

    def estimate(
        self,
        dataset: str | None = None,
        *,
        config: Config | str | Path | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> RunEstimate:
        """What scoring the examples not yet scored will cost (calls, tokens, time, dollars)."""
        chosen = run_config(self.store, dataset, config=config, settings=settings)
        return estimate_run(self.store, self.store.dataset(dataset).name, chosen)

    def run(
        self,
        dataset: str | None = None,
        *,
        config: Config | str | Path | None = None,
        settings: Mapping[str, Any] | None = None,
        stages: Iterable[str] = STAGES,
        on_progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
    ) -> RunSummary:
        """Run the stages (score, filter, correct) as ``curate run`` does; resumes, never pays twice.

        Args:
            dataset: the dataset's name (None: the store's only one).
            config, settings: see :func:`run_config` (None: the last run's settings, else defaults).
            stages, on_progress, should_stop: as for :func:`curation.pipeline.run_pipeline`.
        Returns:
            The run's summary; its notes and warnings are logged too.
        Raises:
            ConfigError, StorageError, LLMError: as for :func:`curation.pipeline.run_pipeline`.
        """
        chosen = run_config(self.store, dataset, config=config, settings=settings)
        name = self.store.dataset(dataset).name
        summary = run_pipeline(
            self.store, name, chosen, stages=tuple(stages), on_progress=on_progress, should_stop=should_stop
        )
        for note in summary.notes:
            log.info("%s", note)
        for warning in summary.warnings:
            log.warning("%s", warning)
        return summary

    def results(self, dataset: str | None = None) -> pd.DataFrame:
        """Per example: scores, flags, proposals and decisions (see :func:`results`)."""
        return results(self.store, dataset)

    def export(
        self,
        dataset: str | None,
        path: str | Path,
        *,
        fmt: str = OWN_FORMAT,
        undecided: str | None = None,
    ) -> ExportResult:
        """Write the curated dataset and its manifest, as ``curate export`` does (see
        :func:`curation.export.export_dataset`: ``fmt``, and ``undecided`` hold / drop / keep)."""
        return export_dataset(self.store, path, dataset=dataset, fmt=fmt, undecided=undecided)

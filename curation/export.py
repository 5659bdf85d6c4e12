"""Export: the curated dataset as JSONL (or Parquet, for an ``.parquet`` path), plus a manifest of
what changed and why.

The current state of each example decides what is written:

- a reviewer's decision in force wins: ``remove`` drops it, ``accept`` / ``edit`` write the
  new response, ``keep`` writes the original;
- else an auto-applied correction (judge confidence ≥ η) writes the candidate;
- else an Auto-Filter flag (confidence < γ) that nobody decided on follows the ``undecided``
  choice: ``hold`` (the default) leaves it out of the curated file and writes it, unchanged, to
  ``<out>.held.jsonl`` for later review; ``drop`` removes it; ``keep`` writes it unchanged;
- else the example is written untouched.

``hold`` is the default because a flag is a suspicion, not a verdict: where one flag in three
is a real error (as on a small QA file), ``drop`` throws away good examples and ``keep`` ships
bad ones, while ``hold`` ships neither and loses nothing.

The files are written atomically (temporary file, fsync, rename), so a crash leaves the
previous export or the complete new one, never half a file. All are complete on disk before
any is renamed, and the manifest holds the data file's SHA-256, so the one stale pair a kill
can leave (the new data beside the previous manifest, between the renames) shows.

The examples stream from the store a page at a time and are written as they come (a Parquet
file is spooled as JSON Lines while its schema is inferred, then written a batch at a time), so
memory grows with the manifest's list of changes, not with the dataset. How each file is written
and renamed: :mod:`curation.export_files`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation import __version__
from curation.errors import CurationError, InvalidRecordError
from curation.export_files import JsonlTemp, ParquetTemp, commit, remove, write_temp
from curation.records import FORMATS
from curation.render import render_record
from curation.store import DatasetInfo, Store, now, prompt_from_json

OWN_FORMAT = "own"
#: What export does with flagged examples nobody decided on (see the module docstring).
UNDECIDED = ("hold", "drop", "keep")
DEFAULT_UNDECIDED = "hold"
UNDECIDED_SETTING = "export.undecided"
UNDECIDED_LABELS = {
    "hold": "hold them: leave them out and write them to a side file for later review",
    "drop": "drop them: trust the Auto-Filter",
    "keep": "keep them: write them unchanged",
}
COUNT_KEYS = ("total", "kept", "removed", "corrected", "edited", "untouched", "held", "undecided")


@dataclass
class ExportResult:
    path: Path
    manifest_path: Path
    counts: dict[str, int]
    manifest: dict[str, Any] = field(repr=False)
    held_path: Path | None = None  # the undecided flagged examples, when ``hold`` held any


def resolve(row: dict[str, Any], undecided: str = DEFAULT_UNDECIDED) -> tuple[str, str | None, str]:
    """Decide one example's fate from its export row.

    Args:
        row: the example's state: decision in force, text in force (``in_force``), proposal, flag,
            confidence.
        undecided: what to do with a flag nobody decided on, one of :data:`UNDECIDED`.
    Returns:
        ``(outcome, response, reason)`` with outcome one of ``untouched``, ``kept``,
        ``corrected``, ``edited``, ``removed``, ``held`` or ``flag_kept``; ``response`` is
        None when the example leaves the curated file (removed or held).
    """
    action, who, text = row.get("action"), row.get("annotator"), row["in_force"]
    if action == "remove":
        return "removed", None, f"removed by {who}"
    if action == "accept":
        return "corrected", text, f"correction accepted by {who}"
    if action == "edit":
        return "edited", text, f"edited by {who}"
    if action == "keep":
        return "kept", text, f"original kept by {who}"
    if row.get("auto_applied"):
        checked = f"; a {row['evidence']} a rule checked" if row.get("evidence") else ""
        return "corrected", text, f"auto-corrected (judge confidence {row['judge_confidence']:.2f}{checked})"
    if is_undecided_flag(row):
        conf = row.get("confidence")
        flag = f"flagged (confidence {'n/a' if conf is None else f'{conf:.2f}'} < γ {row['threshold']:.2f}), undecided"
        if undecided == "drop":
            return "removed", None, f"{flag}: dropped"
        if undecided == "keep":
            return "flag_kept", text, f"{flag}: kept unchanged"
        return "held", None, f"{flag}: held for review"
    return "untouched", text, ""


def is_undecided_flag(row: dict[str, Any]) -> bool:
    """Flagged by the Auto-Filter, with no decision in force and no correction applied."""
    return bool(row.get("flagged")) and row.get("action") is None and not row.get("auto_applied")


def check_undecided(undecided: str) -> str:
    """``undecided`` if it is one of :data:`UNDECIDED`.

    Raises:
        CurationError: any other value.
    """
    if undecided not in UNDECIDED:
        raise CurationError(f"export: undecided {undecided!r} is not one of {', '.join(UNDECIDED)}")
    return undecided


def undecided_choice(store: Store, dataset_id: int) -> str:
    """The dataset's saved choice for undecided flags (the Export page saves it), else the default."""
    saved = store.setting(dataset_id, UNDECIDED_SETTING, DEFAULT_UNDECIDED)
    return saved if saved in UNDECIDED else DEFAULT_UNDECIDED


def held_path(out: str | Path) -> Path:
    """Where ``hold`` writes the undecided flagged examples: ``<out>.held.jsonl``."""
    out = Path(out)
    return out.with_name(out.name + ".held.jsonl")


def export_dataset(
    store: Store,
    out: str | Path,
    *,
    dataset: str | None = None,
    fmt: str = OWN_FORMAT,
    undecided: str | None = None,
    fail_after: int | None = None,
) -> ExportResult:
    """Write the curated dataset to ``out`` and its manifest to ``<out>.manifest.json``.

    Args:
        store: the project store.
        out: the JSONL file to write (replaced atomically).
        dataset: the dataset's name (may be None when the store holds exactly one).
        fmt: ``own`` (the input's shape) or one of ``chat``, ``alpaca``, ``sharegpt``, ``prompt-response``.
        undecided: ``hold``, ``drop`` or ``keep`` for flagged examples nobody decided on (None:
            the dataset's saved choice, else ``hold``); ``hold`` writes them to :func:`held_path`
            (when there are any; a stale file of that name is removed otherwise).
        fail_after: testing hook: raise after writing this many records (proves atomicity).
    Returns:
        The paths written and the counts.
    Raises:
        CurationError: unknown format or choice, an unwritable path, or a response that its record
            cannot hold (an edited tool-call response that is not tool calls, naming the example
            and the field); StorageError: unknown dataset.
    """
    if fmt != OWN_FORMAT and fmt not in FORMATS:
        raise CurationError(f"export: format {fmt!r} is not one of {OWN_FORMAT}, {', '.join(FORMATS)}")
    info = store.dataset(dataset)
    undecided = undecided_choice(store, info.dataset_id) if undecided is None else check_undecided(undecided)
    target = info.format if fmt == OWN_FORMAT else fmt
    counts = dict.fromkeys(COUNT_KEYS, 0)
    changes: list[dict[str, str]] = []
    render = _renderer(info, target)
    out = Path(out)
    manifest_path = out.with_name(out.name + ".manifest.json")
    side = held_path(out)
    data = ParquetTemp(out) if out.suffix.lower() == ".parquet" else JsonlTemp(out)
    held = JsonlTemp(side, lazy=True)  # a file only once something is held
    temps: list[str] = []
    try:
        for page in store.export_pages(info.dataset_id):
            for row in page:
                outcome, response, reason = resolve(row, undecided)
                counts["total"] += 1
                counts[_COUNTED_AS[outcome]] += 1
                counts["undecided"] += is_undecided_flag(row)
                if outcome not in ("untouched", "kept"):
                    changes.append({"id": row["example_id"], "outcome": outcome, "reason": reason})
                if outcome == "held":
                    held.write(render(row, row["response"]))
                if response is not None:
                    if fail_after is not None and counts["kept"] >= fail_after:
                        raise CurationError(f"export: simulated failure after {counts['kept']} records")
                    counts["kept"] += 1
                    data.write(render(row, response))
        temps.append(data.finish())
        if held.started:
            temps.append(held.finish())
        manifest = {
            "tool": "clear-studio",
            "version": __version__,
            "exported_at": now().isoformat(timespec="seconds") + "Z",
            "dataset": info.name,
            "source": {"path": info.source_path, "sha256": info.source_sha256, "format": info.format},
            "output": {"path": str(out), "format": target, "file_type": _file_type(out), "sha256": data.sha256},
            "undecided": {
                "choice": undecided,
                "count": counts["undecided"],
                "held_path": str(side) if held.started else None,
            },
            "counts": counts,
            "config": store.last_run_config(info.dataset_id),
            "changes": changes,
        }
        encoder = json.JSONEncoder(indent=2, ensure_ascii=False, default=str)
        temps.append(write_temp(manifest_path, itertools.chain(encoder.iterencode(manifest), ["\n"])))
    except BaseException:
        data.discard()
        held.discard()
        for tmp in temps:
            remove(tmp)
        raise
    targets = [out, side, manifest_path] if held.started else [out, manifest_path]
    for i, (tmp, path) in enumerate(zip(temps, targets)):
        commit(tmp, path, also=temps[i + 1 :])
    if not held.started:
        remove(str(side))  # a previous export's held examples would no longer be true
    return ExportResult(
        path=out,
        manifest_path=manifest_path,
        counts=counts,
        manifest=manifest,
        held_path=side if held.started else None,
    )


def _renderer(info: DatasetInfo, target: str) -> Callable[[dict[str, Any], str], dict[str, Any]]:
    """The function that writes one export row with a given response as a record of ``target``."""

    def render(row: dict[str, Any], response: str) -> dict[str, Any]:
        try:
            return render_record(
                json.loads(row["record"]),
                info.format,
                prompt_from_json(row["prompt"]),
                response,
                target,
                prompt_col=info.options.get("prompt_col"),
                response_col=info.options.get("response_col"),
            )
        except InvalidRecordError as e:  # an edited tool-call response that is not tool calls
            where = "; ".join(f"{p.field} {p.message}" for p in e.problems)
            raise CurationError(f"export: example {row['example_id']!r}: {where}") from e

    return render


# An outcome → the count it adds to (a written original counts as untouched).
_COUNTED_AS = {
    "untouched": "untouched",
    "kept": "untouched",
    "flag_kept": "untouched",
    "corrected": "corrected",
    "edited": "edited",
    "removed": "removed",
    "held": "held",
}


def _file_type(out: Path) -> str:
    return "parquet" if out.suffix.lower() == ".parquet" else "jsonl"


__all__ = [
    "export_dataset",
    "resolve",
    "held_path",
    "undecided_choice",
    "check_undecided",
    "ExportResult",
    "OWN_FORMAT",
    "UNDECIDED",
    "DEFAULT_UNDECIDED",
    "UNDECIDED_LABELS",
    "UNDECIDED_SETTING",
]

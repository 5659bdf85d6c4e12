"""Export: the curated dataset as JSONL, plus a manifest of what changed and why.

The current state of each example decides what is written:

- a reviewer's decision in force wins: ``remove`` drops it, ``accept`` / ``edit`` write the
  new response, ``keep`` writes the original;
- else an auto-applied correction (judge confidence ≥ η) writes the candidate;
- else an Auto-Filter flag (confidence < γ) drops it;
- else the example is written untouched.

Both files are written atomically (temporary file, fsync, rename), so a crash leaves the
previous export or the complete new one, never half a file. Both are complete on disk before
either is renamed, and the manifest holds the data file's SHA-256, so the one stale pair a
kill can leave (the new data beside the previous manifest, between the two renames) shows.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from curation import __version__
from curation.errors import CurationError
from curation.formats import render_record
from curation.records import FORMATS
from curation.store import Store, now, prompt_from_json

OWN_FORMAT = "own"


@dataclass
class ExportResult:
    path: Path
    manifest_path: Path
    counts: dict[str, int]
    manifest: dict[str, Any] = field(repr=False)


def resolve(row: dict[str, Any]) -> tuple[str, str | None, str]:
    """Decide one example's fate from its export row.

    Returns:
        ``(outcome, response, reason)`` with outcome one of ``untouched``, ``kept``,
        ``corrected``, ``edited``, ``removed``; ``response`` is None when removed.
    """
    action, who = row.get("action"), row.get("annotator")
    if action == "remove":
        return "removed", None, f"removed by {who}"
    if action == "accept":
        return "corrected", row["after"], f"correction accepted by {who}"
    if action == "edit":
        return "edited", row["after"], f"edited by {who}"
    if action == "keep":
        return "kept", row["response"], f"original kept by {who}"
    if row.get("auto_applied"):
        return "corrected", row["candidate"], f"auto-corrected (judge confidence {row['judge_confidence']:.2f})"
    if row.get("flagged"):
        conf = row.get("confidence")
        shown = "n/a" if conf is None else f"{conf:.2f}"
        return "removed", None, f"auto-filtered (confidence {shown} < {row['threshold']:.2f})"
    return "untouched", row["response"], ""


def export_dataset(store: Store, out: str | Path, *, dataset: str | None = None, fmt: str = OWN_FORMAT,
                   fail_after: int | None = None) -> ExportResult:
    """Write the curated dataset to ``out`` and its manifest to ``<out>.manifest.json``.

    Args:
        store: the project store.
        out: the JSONL file to write (replaced atomically).
        dataset: the dataset's name (may be None when the store holds exactly one).
        fmt: ``own`` (the input's shape) or one of ``chat``, ``alpaca``, ``sharegpt``, ``prompt-response``.
        fail_after: testing hook: raise after writing this many records (proves atomicity).
    Returns:
        The paths written and the counts.
    Raises:
        CurationError: unknown format or unwritable path; StorageError: unknown dataset.
    """
    if fmt != OWN_FORMAT and fmt not in FORMATS:
        raise CurationError(f"export: format {fmt!r} is not one of {OWN_FORMAT}, {', '.join(FORMATS)}")
    info = store.dataset(dataset)
    target = info.format if fmt == OWN_FORMAT else fmt
    counts = {"total": 0, "kept": 0, "removed": 0, "corrected": 0, "edited": 0, "untouched": 0}
    changes: list[dict[str, str]] = []

    def records() -> Iterable[dict[str, Any]]:
        for row in store.export_rows(info.dataset_id):
            outcome, response, reason = resolve(row)
            counts["total"] += 1
            counts[outcome if outcome != "kept" else "untouched"] += 1
            if outcome not in ("untouched", "kept"):
                changes.append({"id": row["example_id"], "outcome": outcome, "reason": reason})
            if response is None:
                continue
            counts["kept"] += 1
            yield render_record(
                json.loads(row["record"]), info.format, prompt_from_json(row["prompt"]), response, target,
                prompt_col=info.options.get("prompt_col"), response_col=info.options.get("response_col"),
            )

    out = Path(out)
    manifest_path = out.with_name(out.name + ".manifest.json")
    digest = hashlib.sha256()
    data_tmp = _write_temp(out, _hashed(_jsonl_lines(records(), fail_after), digest))
    try:
        manifest = {
            "tool": "clear-studio",
            "version": __version__,
            "exported_at": now().isoformat(timespec="seconds") + "Z",
            "dataset": info.name,
            "source": {"path": info.source_path, "sha256": info.source_sha256, "format": info.format},
            "output": {"path": str(out), "format": target, "sha256": digest.hexdigest()},
            "counts": counts,
            "config": store.last_run_config(info.dataset_id),
            "changes": changes,
        }
        manifest_tmp = _write_temp(manifest_path,
                                   [json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n"])
    except BaseException:
        _remove(data_tmp)
        raise
    _commit(data_tmp, out, also=manifest_tmp)
    _commit(manifest_tmp, manifest_path)
    return ExportResult(path=out, manifest_path=manifest_path, counts=counts, manifest=manifest)


def _jsonl_lines(records: Iterable[dict[str, Any]], fail_after: int | None) -> Iterable[str]:
    for written, record in enumerate(records):
        if fail_after is not None and written >= fail_after:
            raise CurationError(f"export: simulated failure after {written} records")
        yield json.dumps(record, ensure_ascii=False) + "\n"


def _hashed(chunks: Iterable[str], digest: Any) -> Iterable[str]:
    for chunk in chunks:
        digest.update(chunk.encode("utf-8"))
        yield chunk


def _write_temp(path: Path, chunks: Iterable[str]) -> str:
    """Write ``chunks`` to a synced temporary file beside ``path``; return its name."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise CurationError(f"{path}: cannot write the export: {e}") from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as e:
        _remove(tmp)
        raise CurationError(f"{path}: cannot write the export: {e}") from e
    except BaseException:
        _remove(tmp)
        raise
    return tmp


def _commit(tmp: str, path: Path, *, also: str | None = None) -> None:
    """Rename ``tmp`` over ``path`` (on failure, remove it and the ``also`` temporary file)."""
    try:
        os.replace(tmp, path)
    except OSError as e:
        _remove(tmp)
        if also is not None:
            _remove(also)
        raise CurationError(f"{path}: cannot write the export: {e}") from e


def _remove(tmp: str) -> None:
    if os.path.exists(tmp):
        os.unlink(tmp)


__all__ = ["export_dataset", "resolve", "ExportResult", "OWN_FORMAT"]

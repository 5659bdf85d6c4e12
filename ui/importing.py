"""What the Import page shows about a file before it is imported.

In: a file on disk (an upload is first saved under its own name in a temporary folder, so
problems still name it). Out: :class:`FileReport`, plain data: the detected shape, the columns
to map, a preview of the first examples and every validation problem as ``file:line``,
field and message. Nothing is written to the store here.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st

from curation.errors import CurationError, InvalidRecordError, Problem
from curation.ingest import read_dataset
from curation.readers import read_raw
from curation.store import prompt_text

UPLOAD_TYPES = ["jsonl", "ndjson", "json", "csv", "parquet", "gz", "bz2", "xz", "zst"]
PREVIEW_ROWS = 20
FIRST_PROBLEMS = 5
_KEY_SAMPLE = 50
_UNITS = {"jsonl": "line", "json": "record", "csv": "row", "parquet": "row"}


@dataclass(frozen=True)
class FileReport:
    """One file as the importer sees it with the chosen options.

    ``error`` is set when the file cannot be read at all (then the rest is empty);
    ``problems`` lists every bad record (``where`` is ``name:line``); ``n_good`` examples
    would be imported (with skip-invalid when there are problems).
    """

    file_type: str = ""
    format: str | None = None
    prompt_col: str | None = None
    response_col: str | None = None
    keys: list[str] = field(default_factory=list)
    n_records: int = 0
    n_good: int = 0
    preview: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def n_bad(self) -> int:
        """Records that would be left out (one record can have several problems)."""
        return self.n_records - self.n_good

    @property
    def unit(self) -> str:
        """What one record is in this file: a line, a row or a record."""
        return _UNITS.get(self.file_type, "record")

    @property
    def importable(self) -> bool:
        """Whether anything can be imported, skipping the bad records if need be."""
        return not self.error and self.n_good > 0

    @property
    def bad_records(self) -> str:
        """``3 bad lines``, ``1 bad row``: the records a skip would leave out."""
        return f"{self.n_bad} bad {self.unit}{'' if self.n_bad == 1 else 's'}"

    def problem_headline(self) -> str:
        """Why the Import button waits: how many records are bad, and what to do about it."""
        if not self.importable:
            return "Nothing can be imported from this file: fix it first."
        verb = "has" if self.n_bad == 1 else "have"
        return (
            f"{self.n_bad} of {self.n_records} {self.unit}s {verb} problems. Nothing is imported "
            "until you fix the file or choose to skip them."
        )

    def first_problems(self, limit: int = FIRST_PROBLEMS) -> str:
        """The first ``limit`` problems as ``file:line: field message`` lines, then how many more."""
        lines = [
            str(Problem(row["where"], None, row["field"] or None, row["problem"])) for row in self.problems[:limit]
        ]
        more = len(self.problems) - limit
        return "\n".join(lines + ([f"... and {more} more (every one is in the table)"] if more > 0 else []))


def save_upload(uploaded: Any) -> Path:
    """Write a ``st.file_uploader`` file to ``<tmp>/clear-studio-uploads/<file id>/<its name>``."""
    folder = Path(tempfile.gettempdir()) / "clear-studio-uploads" / str(uploaded.file_id)
    path = folder / Path(uploaded.name).name
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(uploaded.getvalue())
    return path


def problem_rows(problems: list[Problem]) -> list[dict[str, Any]]:
    """Problems as table rows: ``where`` (``name:line``), ``field``, ``problem``."""
    rows = []
    for p in problems:
        name = Path(p.file).name
        rows.append(
            {"where": name if p.line is None else f"{name}:{p.line}", "field": p.field or "", "problem": p.message}
        )
    return rows


def inspect_file(
    path: str | Path, *, fmt: str | None = None, prompt_col: str | None = None, response_col: str | None = None
) -> FileReport:
    """Read ``path`` as :func:`curation.ingest.read_dataset` would, keeping every problem.

    Cached per file version (path, size, modification time) and options.
    """
    p = Path(path)
    try:
        stat = p.stat()
    except FileNotFoundError:
        return FileReport(error=f"{p}: file not found")  # the library's words, as the CLI says it
    except OSError as e:
        return FileReport(error=f"{p}: cannot read the file: {e.strerror or e}")
    return _inspect(str(p), stat.st_size, stat.st_mtime_ns, fmt, prompt_col, response_col)


@st.cache_data(show_spinner="Reading the file…", max_entries=16)
def _inspect(
    path: str, size: int, mtime_ns: int, fmt: str | None, prompt_col: str | None, response_col: str | None
) -> FileReport:
    try:
        raw = read_raw(path)
    except CurationError as e:
        return FileReport(error=str(e), problems=problem_rows(getattr(e, "problems", [])))
    keys = list(raw.columns or _record_keys(raw.records))
    options = {"fmt": fmt, "prompt_col": prompt_col, "response_col": response_col}
    try:
        parsed = read_dataset(path, skip_invalid=True, **options)
    except InvalidRecordError as e:
        flat = fmt or ("prompt-response" if raw.columns is not None else None)
        return FileReport(
            file_type=raw.file_type,
            format=flat,
            keys=keys,
            n_records=len(raw.records),
            prompt_col=prompt_col,
            response_col=response_col,
            problems=problem_rows(e.problems),
        )
    except CurationError as e:
        return FileReport(file_type=raw.file_type, keys=keys, n_records=len(raw.records), error=str(e))
    problems: list[Problem] = []
    if parsed.rejected:
        try:
            read_dataset(path, skip_invalid=False, **options)
        except InvalidRecordError as e:
            problems = e.problems
    preview = [
        {"line": ex.line, "id": ex.example_id, "prompt": prompt_text(ex.prompt), "response": ex.response}
        for ex in parsed.examples[:PREVIEW_ROWS]
    ]
    return FileReport(
        file_type=parsed.file_type,
        format=parsed.format,
        prompt_col=parsed.options.get("prompt_col"),
        response_col=parsed.options.get("response_col"),
        keys=keys,
        n_records=len(raw.records),
        n_good=len(parsed.examples),
        preview=preview,
        problems=problem_rows(problems),
    )


def _record_keys(records: list) -> list[str]:
    keys: dict[str, None] = {}
    for r in records[:_KEY_SAMPLE]:
        if isinstance(r.record, dict):
            keys.update(dict.fromkeys(map(str, r.record)))
    return list(keys)

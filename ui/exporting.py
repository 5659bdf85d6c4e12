"""A dry run of the export for the Export page: the same files, written to a temporary folder.

In: the store, a dataset and an output format. Out: the counts and the manifest that a real
export would write now, plus the curated JSONL's bytes for the download button. The library's
:func:`curation.export.export_dataset` does the work; nothing is written outside the
temporary folder.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curation.export import export_dataset
from curation.store import Store


@dataclass(frozen=True)
class ExportPreview:
    counts: dict[str, int]
    manifest: dict[str, Any]
    data: bytes
    manifest_bytes: bytes
    held: bytes | None  # the undecided flagged examples, under ``hold``


def preview_export(store: Store, dataset: str, fmt: str, undecided: str) -> ExportPreview:
    """Export ``dataset`` as ``fmt`` into a temporary folder and return what was written.

    Raises:
        CurationError: as :func:`curation.export.export_dataset`.
    """
    with tempfile.TemporaryDirectory(prefix="clear-export-") as tmp:
        result = export_dataset(store, Path(tmp) / f"{dataset}.jsonl", dataset=dataset, fmt=fmt, undecided=undecided)
        manifest = dict(
            result.manifest,
            output={**result.manifest["output"], "path": None},
            undecided={**result.manifest["undecided"], "held_path": None},
        )
        return ExportPreview(
            counts=result.counts,
            manifest=manifest,
            data=result.path.read_bytes(),
            manifest_bytes=json.dumps(manifest, indent=2, ensure_ascii=False, default=str).encode("utf-8") + b"\n",
            held=result.held_path.read_bytes() if result.held_path else None,
        )


def default_out_path(store: Store, dataset: str) -> str:
    """``<the store's folder>/<dataset>.curated.jsonl`` (an in-memory store: the working folder)."""
    folder = Path.cwd() if store.path == ":memory:" else Path(store.path).resolve().parent
    return str(folder / f"{dataset}.curated.jsonl")

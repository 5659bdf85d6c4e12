"""In-memory tables in: a pandas DataFrame, a Hugging Face ``datasets.Dataset`` (or a folder
written by its ``save_to_disk``) or a list of dicts, as plain Python rows; no format logic.

In: the object (or the folder). Out: a :class:`Table` whose rows hold only JSON-like Python
values (numpy arrays and scalars made lists and numbers), for
:func:`curation.readers.read_table`. A DataFrame or Dataset cell that is missing (None, NaN,
``pd.NA``) is left out of its row, as the key is absent from the JSON line a table is made of.

``datasets`` is an optional extra: without it, a ``save_to_disk`` folder raises
:class:`~curation.errors.InputFileError` naming the folder and :data:`HF_EXTRA`.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from curation.errors import CurationError, InputFileError, InvalidRecordError, Problem
from curation.formats import printable, quoted

HF_EXTRA = "pip install 'clear-studio[hf]'"
#: Files that mark a ``save_to_disk`` folder: one dataset, or a dict of splits.
HF_DATASET_FILES = ("state.json", "dataset_info.json")
HF_DICT_FILE = "dataset_dict.json"


@dataclass(frozen=True)
class Table:
    """A table's kind (``dataframe``, ``hf-dataset`` or ``records``), its columns (None for a
    list of dicts, which has keys per record) and its rows, in order."""

    kind: str
    columns: tuple[str, ...] | None
    rows: list[Any]


def table_of(data: Any, *, name: str) -> Table:
    """``data`` as plain rows.

    Args:
        data: a pandas DataFrame, a ``datasets.Dataset`` (a ``DatasetDict`` of one split), or
            a list of dicts (any other item is a bad record, found later).
        name: how problems name it.
    Raises:
        InvalidRecordError: a DataFrame's column name appears twice.
        CurationError: ``data`` is none of these, or a ``DatasetDict`` of several splits.
    """
    pandas, hf = sys.modules.get("pandas"), sys.modules.get("datasets")  # such an object means it is imported
    if pandas is not None and isinstance(data, pandas.DataFrame):
        return _frame(data, name)
    if hf is not None and isinstance(data, hf.DatasetDict):
        return table_of(_one_split(data, name), name=name)
    if hf is not None and isinstance(data, hf.Dataset):
        return Table("hf-dataset", tuple(data.column_names), [_row(r) for r in data.to_list()])
    if isinstance(data, (list, tuple)):
        return Table("records", None, [_plain(r) for r in data])
    raise CurationError(
        f"{name}: expected a pandas DataFrame, a datasets.Dataset or a list of dicts, got {type(data).__name__}"
    )


def is_hf_folder(folder: Path) -> bool:
    """Whether ``folder`` was written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``."""
    return all((folder / f).is_file() for f in HF_DATASET_FILES) or (folder / HF_DICT_FILE).is_file()


def load_hf_folder(folder: Path, *, name: str) -> Table:
    """A ``save_to_disk`` folder, read with ``datasets.load_from_disk``.

    Raises:
        InputFileError: ``datasets`` is not installed (the message names :data:`HF_EXTRA`), or
            it cannot read the folder.
        CurationError: a ``DatasetDict`` of several splits (the message names them).
    """
    try:
        import datasets
    except ImportError as e:
        raise InputFileError(
            f"{name}: a Hugging Face save_to_disk folder; reading it needs the datasets package, "
            f"the optional extra hf: {HF_EXTRA}"
        ) from e
    try:
        loaded = datasets.load_from_disk(str(folder))
    except (OSError, ValueError, KeyError, pa.ArrowException) as e:  # missing files or keys, bad JSON or Arrow
        raise InputFileError(f"{name}: cannot read the Hugging Face dataset: {e}") from e
    return table_of(loaded, name=name)


def _one_split(data: Any, name: str) -> Any:
    splits = list(data)
    if len(splits) == 1:
        return data[splits[0]]
    shown = ", ".join(printable(s) for s in splits) or "(none)"
    where = f"; import one split's folder, e.g. {name}/{printable(splits[0])}" if splits else ""
    raise CurationError(f"{name}: a DatasetDict of {len(splits)} splits ({shown}); a dataset is one split{where}")


def _frame(frame: Any, name: str) -> Table:
    columns = [str(c) for c in frame.columns]
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise InvalidRecordError([Problem(name, None, None, f"column {quoted(dupes[0])} appears more than once")])
    rows = frame.set_axis(columns, axis=1).to_dict("records")  # set_axis: column labels that are not text
    return Table("dataframe", tuple(columns), [_row(r) for r in rows])


def _row(row: dict[str, Any]) -> dict[str, Any]:
    """A table row with its missing cells left out."""
    return {key: _plain(value) for key, value in row.items() if not _missing(value)}


def _plain(value: Any) -> Any:
    """``value`` with numpy arrays and scalars as Python lists and numbers, missing values as None."""
    if isinstance(value, dict):
        return {key: _plain(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if _missing(value):
        return None
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy arrays and scalars, duck-typed
        return _plain(value.tolist())
    return value


def _missing(value: Any) -> bool:
    """None, a float NaN, ``pd.NA`` or ``pd.NaT``: how tables mark an empty cell."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")

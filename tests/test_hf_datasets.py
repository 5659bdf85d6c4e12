"""Hugging Face datasets in (``curation.tables``): a ``datasets.Dataset``, a ``save_to_disk``
folder (the CLI's import too), a ``DatasetDict`` of one split or several, and the clear error
when the optional ``datasets`` package is missing."""

from __future__ import annotations

import sys

import datasets
import pytest

from curation.cli import main
from curation.errors import CurationError, InputFileError, InvalidRecordError
from curation.ingest import read_dataset, read_records
from curation.readers import read_raw
from curation.store import Store
from curation.tables import HF_EXTRA, is_hf_folder

CHAT = [
    {"messages": [{"role": "user", "content": "Capital of France?"}, {"role": "assistant", "content": "Paris"}]},
    {"messages": [{"role": "user", "content": "Capital of Peru?"}, {"role": "assistant", "content": "Lima"}]},
]


@pytest.fixture
def saved(tmp_path):
    """A one-dataset ``save_to_disk`` folder of the two chat records."""
    folder = tmp_path / "capitals"
    datasets.Dataset.from_list(CHAT).save_to_disk(str(folder))
    return folder


def test_a_dataset_is_read_as_its_rows(saved):
    parsed = read_records(datasets.Dataset.from_list(CHAT), source="Dataset")
    assert (parsed.format, parsed.file_type) == ("chat", "hf-dataset")
    assert [e.response for e in parsed.examples] == ["Paris", "Lima"]
    assert [e.line for e in parsed.examples] == [1, 2]


def test_a_bad_row_of_a_dataset_is_named_by_row_and_column():
    rows = [{"prompt": "What is 1 + 1?", "response": "2"}, {"prompt": "What is 2 + 2?", "response": ""}]
    rows.append({"prompt": "", "response": "6"})
    with pytest.raises(InvalidRecordError, match=r"^Dataset:3: prompt "):
        read_records(datasets.Dataset.from_list(rows), source="Dataset")


def test_a_save_to_disk_folder_is_one_dataset(saved):
    assert is_hf_folder(saved) and not is_hf_folder(saved.parent)
    parsed = read_dataset(saved)
    assert (parsed.path, parsed.format, parsed.file_type) == (str(saved), "chat", "hf-dataset")
    assert [e.response for e in parsed.examples] == ["Paris", "Lima"]
    assert read_raw(saved).sha256 == read_raw(saved).sha256


def test_curate_import_reads_a_save_to_disk_folder(saved, tmp_path, capsys):
    store = tmp_path / "s.duckdb"
    assert main(["import", str(saved), "--store", str(store)]) == 0
    assert "imported 2 examples into dataset 'capitals' (hf-dataset, chat format)" in capsys.readouterr().out
    with Store(store) as s:
        assert s.dataset("capitals").source_path == str(saved)


def test_a_dataset_dict_of_one_split_is_that_split_and_of_several_names_them(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(CHAT)}).save_to_disk(str(one))
    assert len(read_dataset(one).examples) == 2
    split = datasets.Dataset.from_list(CHAT)
    datasets.DatasetDict({"train": split, "test": split}).save_to_disk(str(two))
    with pytest.raises(CurationError, match=r"2 splits \(train, test\).*import one split's folder, e\.g\. .*two/train"):
        read_dataset(two)
    assert len(read_dataset(two / "test").examples) == 2


def test_a_damaged_folder_says_so(saved):
    (saved / "state.json").write_text("{not json")
    with pytest.raises(InputFileError, match=r"capitals: cannot read the Hugging Face dataset"):
        read_dataset(saved)


def test_without_the_extra_the_error_names_the_folder_and_the_install(saved, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # `import datasets` now raises ImportError
    with pytest.raises(InputFileError, match=r"capitals: a Hugging Face save_to_disk folder") as e:
        read_dataset(saved)
    assert HF_EXTRA in str(e.value) and HF_EXTRA == "pip install 'clear-studio[hf]'"

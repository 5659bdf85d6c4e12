"""The bad-input corpus (``tests/data/bad``): each file gives one clear error, and nothing else.

For every malformed file, through the library, the CLI and the Import page: a
:class:`~curation.errors.CurationError` (never another exception) whose first line names the file,
the line and the field as ``EXPECTED.json`` says; ``curate import`` exits 2 with one ``error:`` line
and no traceback; the store keeps exactly the rows it had. Formula-looking cells (``=HYPERLINK``,
``+cmd``, ``-2+3``, ``@SUM``) are data and import unchanged.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

from curation.cli import main
from curation.errors import CurationError
from curation.ingest import import_file, read_dataset
from curation.store import Store
from tests.browser.apptest import app, texts, use_store
from tests.support import raw_sql
from ui import common

CORPUS = Path(__file__).resolve().parent / "data" / "bad"
EXPECTED: dict[str, str | None] = json.loads((CORPUS / "EXPECTED.json").read_text(encoding="utf-8"))
BAD = [name for name, fragment in EXPECTED.items() if fragment is not None]
VALID = [name for name, fragment in EXPECTED.items() if fragment is None]
FORMULA_FILES = [name for name in VALID if name.startswith("formulas.")]
#: Flat files without the prompt/response columns: the CLI refuses them (name them with --prompt-col /
#: --response-col), while the Import page offers the columns to map, the first two chosen.
MAPPED_ON_THE_PAGE = [
    name
    for name in BAD
    if "column 'prompt' not found" in EXPECTED[name] or "column 'response' not found" in EXPECTED[name]
]
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_corpus = _load_generator()


@pytest.fixture(scope="module")
def made_now(tmp_path_factory) -> dict[str, Path]:
    """The entries made at test time: the 10 MB lines, a directory named like a file, a missing file."""
    return make_corpus.write_at_test_time(tmp_path_factory.mktemp("bad-at-test-time"))


def path_of(name: str, made_now: dict[str, Path]) -> Path:
    return made_now.get(name, CORPUS / name)


def row_counts(path: Path) -> dict[str, int]:
    """Rows in every table of the store (the migrations table included)."""
    with Store(path) as store:
        tables = [
            r[0]
            for r in raw_sql.rows(
                store, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1"
            )
        ]
        return {t: raw_sql.rows(store, f'SELECT count(*) FROM "{t}"')[0][0] for t in tables}


@pytest.fixture(scope="module")
def seeded_store(tmp_path_factory) -> Path:
    """A store that already holds one dataset, so 'unchanged' means more than 'empty'."""
    folder = tmp_path_factory.mktemp("seeded")
    good = folder / "good.jsonl"
    good.write_text(json.dumps({"prompt": "What is 2 + 2?", "response": "4"}) + "\n", encoding="utf-8")
    path = folder / "store.duckdb"
    with Store(path) as store:
        import_file(store, good, name="existing")
    assert not Path(f"{path}.wal").exists()  # closed and checkpointed: one file to copy
    return path


@pytest.fixture
def store_path(seeded_store, tmp_path) -> Path:
    path = tmp_path / "store.duckdb"
    shutil.copyfile(seeded_store, path)
    return path


# -- the corpus itself -------------------------------------------------------------------------------
def test_corpus_is_what_the_generator_writes(tmp_path):
    fresh = tmp_path / "fresh"
    make_corpus.write_corpus(fresh)
    assert json.loads((fresh / "EXPECTED.json").read_text(encoding="utf-8")) == EXPECTED
    stored = {p.name for p in CORPUS.iterdir()} - {"make_corpus.py", "EXPECTED.json", "__pycache__"}
    assert stored == {p.name for p in fresh.iterdir()} - {"EXPECTED.json"}
    assert stored | set(make_corpus.AT_TEST_TIME) == set(EXPECTED)
    for name in stored - {n for n in stored if n.endswith(".parquet")}:  # Parquet bytes carry the writer's version
        assert (CORPUS / name).read_bytes() == (fresh / name).read_bytes(), name


def test_corpus_covers_every_file_type():
    by_type: dict[str, int] = {}
    for name in BAD:
        suffix = Path(name).suffix or "(none)"
        by_type[suffix] = by_type.get(suffix, 0) + 1
    assert len(BAD) >= 30
    assert all(by_type.get(s, 0) >= 5 for s in (".jsonl", ".json", ".csv", ".parquet")), by_type


# -- (a) the library ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", BAD)
def test_library_raises_one_curation_error_naming_the_spot(name, made_now, monkeypatch):
    path = path_of(name, made_now)
    monkeypatch.chdir(path.parent)  # problems name the file as given: just its name
    with pytest.raises(CurationError, match=re.escape(EXPECTED[name])) as info:
        read_dataset(path.name)
    first = str(info.value).splitlines()[0]
    assert EXPECTED[name] in first
    assert not CONTROL.search(str(info.value))  # data quoted in a message cannot drive a terminal


@pytest.mark.parametrize("name", BAD)
def test_import_file_leaves_the_store_unchanged(name, made_now, store_path, monkeypatch):
    path = path_of(name, made_now)
    monkeypatch.chdir(path.parent)
    before = row_counts(store_path)
    with Store(store_path) as store, pytest.raises(CurationError, match=re.escape(EXPECTED[name])):
        import_file(store, path.name)
    assert row_counts(store_path) == before


# -- (b, c) the CLI ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", BAD)
def test_cli_exits_2_with_one_error_line_and_the_store_unchanged(name, made_now, store_path, monkeypatch, capsys):
    path = path_of(name, made_now)
    monkeypatch.chdir(path.parent)
    before = row_counts(store_path)
    assert main(["import", path.name, "--store", str(store_path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    first = err.splitlines()[0]
    assert first.startswith("error: ") and EXPECTED[name] in first
    assert "Traceback" not in err and not CONTROL.search(err)
    assert row_counts(store_path) == before


# -- (d) the Import page -----------------------------------------------------------------------------
def shown_problems(at) -> list[str]:
    """Every error message and every row of a problems table, as ``where: field problem``."""
    shown = texts(at, "error")
    for frame in at.dataframe:
        df = frame.value
        if {"where", "field", "problem"} <= set(df.columns):
            shown += [f"{w}: {f} {p}" if f else f"{w}: {p}" for w, f, p in zip(df["where"], df["field"], df["problem"])]
    return shown


@pytest.fixture
def page(store_path, monkeypatch):
    """The Import page on ``store_path``, with a path on this machine typed in."""
    use_store(monkeypatch, store_path)
    common.open_store.clear()

    def open_path(path: Path):
        at = app("import").run()
        at.radio(key="import_source").set_value("A file on this machine").run()
        at.text_input(key="import_path").input(str(path)).run()
        assert not at.exception, at.exception
        return at

    yield open_path
    common.open_store.clear()


def app_row_counts(store_path: Path) -> dict[str, int]:
    common.open_store.clear()  # let go of the app's handle before counting through a fresh one
    return row_counts(store_path)


@pytest.mark.parametrize("name", [n for n in BAD if n not in MAPPED_ON_THE_PAGE])
def test_import_page_shows_the_problem_and_imports_nothing(name, made_now, store_path, page):
    before = row_counts(store_path)
    at = page(path_of(name, made_now))
    assert any(EXPECTED[name] in s for s in shown_problems(at)), shown_problems(at)
    go = at.button(key="import_go")
    if not go.disabled:
        go.click().run()
        assert not at.exception, at.exception
        assert any("Nothing was imported" in t or EXPECTED[name] in t for t in texts(at, "error"))
    assert not texts(at, "success")
    assert app_row_counts(store_path) == before


@pytest.mark.parametrize("name", MAPPED_ON_THE_PAGE)
def test_import_page_offers_columns_to_map_where_the_cli_refuses(name, store_path, page):
    assert len(MAPPED_ON_THE_PAGE) == 3
    at = page(CORPUS / name)
    labels = [s.label for s in at.selectbox]
    assert "prompt column" in labels and "response column" in labels
    assert not texts(at, "error")


# -- formula-looking cells are data ------------------------------------------------------------------
@pytest.mark.parametrize("name", FORMULA_FILES)
def test_formula_looking_cells_import_unchanged(name, store_path, monkeypatch, capsys):
    monkeypatch.chdir(CORPUS)
    ds = read_dataset(name)
    assert [e.response for e in ds.examples] == list(make_corpus.FORMULAS)
    assert [e.prompt[-1].content for e in ds.examples] == list(make_corpus.FORMULAS)
    assert main(["import", name, "--store", str(store_path), "--name", "formulas"]) == 0
    assert "imported 6 examples" in capsys.readouterr().out
    with Store(store_path) as store:
        info = store.dataset("formulas")
        assert [e.response for e in store.iter_examples(info.dataset_id)] == list(make_corpus.FORMULAS)


@pytest.mark.parametrize("name", FORMULA_FILES)
def test_import_page_imports_formula_looking_cells(name, store_path, page):
    at = page(CORPUS / name)
    assert not texts(at, "error") and not shown_problems(at)
    at.button(key="import_go").click().run()
    assert not at.exception, at.exception
    common.open_store.clear()
    with Store(store_path) as store:
        assert store.dataset(Path(name).stem).n_examples == len(make_corpus.FORMULAS)


def test_a_ten_megabyte_line_imports(made_now, store_path, monkeypatch):
    path = made_now["huge_valid.jsonl"]
    monkeypatch.chdir(path.parent)
    [example] = read_dataset(path.name).examples
    assert len(example.response) == make_corpus.HUGE_BYTES
    assert main(["import", path.name, "--store", str(store_path)]) == 0

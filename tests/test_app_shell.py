"""The app's home view, sidebar and configuration (AppTest, no browser)."""

from __future__ import annotations

import tomllib

import pytest

from curation.store import DEFAULT_STORE, Store
from tests.browser.apptest import PAGES, ROOT, app, texts, use_store
from ui.common import STORE_ENV, sample_files, stage_pages, store_path


@pytest.fixture
def store_file(tmp_path, monkeypatch):
    return use_store(monkeypatch, tmp_path / "store.duckdb")


def test_store_path_prefers_the_flag_then_the_environment(monkeypatch):
    monkeypatch.delenv(STORE_ENV, raising=False)
    assert store_path([]) == DEFAULT_STORE
    monkeypatch.setenv(STORE_ENV, "/tmp/env.duckdb")
    assert store_path([]) == "/tmp/env.duckdb"
    assert store_path(["--store", "/tmp/flag.duckdb"]) == "/tmp/flag.duckdb"


def test_empty_store_offers_the_sample_data(store_file):
    at = app("home").run()
    assert not at.exception
    assert at.title[0].value == "CLEAR Studio"
    assert at.button(key="home_load_samples").label == "Load the sample data"
    assert any("no datasets" in t for t in texts(at, "info"))


def test_sample_button_imports_the_four_sample_datasets(store_file):
    at = app("home").run()
    at.button(key="home_load_samples").click().run()
    assert not at.exception
    with Store(store_file) as store:
        names = sorted(d.name for d in store.datasets())
    assert names == sorted(p.stem for p in sample_files()) and len(names) == 4
    assert any("Loaded 4 sample datasets" in t for t in texts(at, "success"))
    table = at.dataframe[0].value
    assert sorted(table["dataset"]) == names
    assert list(table.loc[table["dataset"] == "support_intents", "examples"]) == [160]
    assert not [b for b in at.button if b.key == "home_load_samples"]


def test_sidebar_choices_go_to_session_state(store_file):
    at = app("home").run()
    at.button(key="home_load_samples").click().run()
    at.sidebar.selectbox[0].select("passage_qa").run()
    at.sidebar.text_input[0].input("ann").run()
    assert not at.exception
    assert at.session_state["dataset_name"] == "passage_qa"
    assert at.session_state["annotator"] == "ann"


@pytest.mark.parametrize("page", ["home", "import", "run", "export"])
def test_each_page_renders_on_an_empty_store(store_file, page):
    at = app(page).run()
    assert not at.exception, at.exception


def test_streamlit_config_binds_locally_without_usage_stats():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
    assert config["browser"]["gatherUsageStats"] is False


def test_home_links_every_stage_page_in_order():
    labels = [label for _, label in stage_pages()]
    assert labels[:2] == ["Import", "Run"] and labels[-1] == "Export"
    assert all((ROOT / path).is_file() for path, _ in stage_pages())


def test_pages_are_numbered_in_pipeline_order():
    assert [p for p in PAGES.values() if p.startswith("pages/")] == sorted(
        p for p in PAGES.values() if p.startswith("pages/")
    )


@pytest.mark.parametrize("page", ["home", "import", "run", "export"])
def test_a_store_that_cannot_be_opened_is_an_error_not_a_crash(tmp_path, monkeypatch, page):
    bad = tmp_path / "not-a-store.duckdb"
    bad.write_text("this is not a DuckDB file\n")
    use_store(monkeypatch, bad)
    at = app(page).run()
    assert not at.exception
    assert any("cannot open the store" in t for t in texts(at, "error"))

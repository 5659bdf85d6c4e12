"""What leaves the tool is safe: exports are JSON (no spreadsheet formulas), example text is rendered
as text (no HTML, no Markdown links), and the app listens on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import json
import re
import sys
import tomllib
from html.parser import HTMLParser

import pytest
from streamlit.testing.v1 import AppTest

from curation import cli
from curation.export import export_dataset
from curation.ingest import import_file
from curation.records import FORMATS, Example, Message, ParsedDataset
from curation.store import Store
from tests.browser.apptest import ROOT
from ui import common
from ui.exporting import preview_export

FORMULAS = (
    '=HYPERLINK("http://x")',
    '=HYPERLINK("http://x","click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "a,=1+1",
)
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
LINK = "[x](javascript:alert(1))"
PAYLOAD = f"{SCRIPT} {IMG} {LINK}"
PROMPT = f"Question {PAYLOAD}?"
RESPONSE = f"Answer {LINK} {IMG} {SCRIPT}"
CANDIDATE = "Fixed <script>alert(2)</script> <img src=y onerror=alert(2)> [y](javascript:alert(2))"
RAW_MARKUP = ("<script", "<img", "onerror=", "javascript:")


# -- (a) exports are JSONL: formula-looking text stays a JSON string --------------------------------------
@pytest.fixture
def formula_store(tmp_path):
    data = tmp_path / "formulas.jsonl"
    data.write_text(
        "".join(json.dumps({"id": f"f{i}", "prompt": f, "response": f}) + "\n" for i, f in enumerate(FORMULAS)),
        encoding="utf-8",
    )
    with Store(tmp_path / "store.duckdb") as store:
        import_file(store, data)
        yield store


def jsonl_records(data: bytes) -> list[dict]:
    """The records of a JSONL file, checking that every line is one JSON object (and so starts with '{')."""
    text = data.decode("utf-8")
    assert text.endswith("\n")
    lines = text[:-1].split("\n")
    assert all(line.startswith("{") and line.endswith("}") for line in lines)
    records = [json.loads(line) for line in lines]
    assert all(isinstance(r, dict) for r in records)
    return records


@pytest.mark.parametrize("fmt", ("own",) + FORMATS)
def test_export_writes_formula_looking_text_as_json_strings(formula_store, tmp_path, fmt):
    result = export_dataset(formula_store, tmp_path / "out.jsonl", fmt=fmt)
    data = result.path.read_bytes()
    records = jsonl_records(data)
    assert len(records) == len(FORMULAS)
    responses = {
        "own": lambda r: r["response"],
        "prompt-response": lambda r: r["response"],
        "alpaca": lambda r: r["output"],
        "chat": lambda r: r["messages"][-1]["content"],
        "sharegpt": lambda r: r["conversations"][-1]["value"],
    }[fmt]
    assert [responses(r) for r in records] == list(FORMULAS)  # exactly: no quote, apostrophe or space added
    assert json.dumps('=HYPERLINK("http://x")').encode() == b'"=HYPERLINK(\\"http://x\\")"'
    assert b'"=HYPERLINK(\\"http://x\\")"' in data
    json.loads(result.manifest_path.read_text(encoding="utf-8"))


def test_the_export_pages_download_is_the_same_jsonl(formula_store):
    preview = preview_export(formula_store, "formulas", "own", "hold")
    assert [r["response"] for r in jsonl_records(preview.data)] == list(FORMULAS)
    json.loads(preview.manifest_bytes)


def test_the_export_page_offers_jsonl_downloads_only(formula_store, monkeypatch):
    monkeypatch.setenv(common.STORE_ENV, formula_store.path)
    common.open_store.clear()
    try:
        at = AppTest.from_file(str(ROOT / "pages" / "6_Export.py"), default_timeout=30).run()
        assert not at.exception
        labels = [b.proto.label for b in at.get("download_button")]
    finally:
        common.open_store.clear()
    assert labels == ["Download the curated JSONL", "Download the manifest"]  # nothing held: no third file
    source = (ROOT / "pages" / "6_Export.py").read_text(encoding="utf-8")
    assert 'file_name=f"{dataset.name}.curated.jsonl"' in source and "text/csv" not in source


def test_the_library_writes_no_csv():
    """No module writes CSV, so no cell could become a formula (csv is read, in readers.py, only)."""
    package = ROOT / "curation"
    writers = [
        p.name
        for p in package.rglob("*.py")
        if "csv.writer" in p.read_text(encoding="utf-8")
        or "DictWriter" in p.read_text(encoding="utf-8")
        or "to_csv" in p.read_text(encoding="utf-8")
    ]
    assert writers == []


# -- (b) example text is rendered as text -----------------------------------------------------------------
def seed_hostile(store: Store) -> None:
    """One scored, flagged example whose prompt, response, correction and explanations carry markup."""
    messages = [
        {"role": "system", "content": f"System {PAYLOAD}"},
        {"role": "user", "content": PROMPT},
        {"role": "assistant", "content": RESPONSE},
    ]
    example = Example(
        example_id="x1",
        id_source="record",
        line=1,
        response=RESPONSE,
        record={"messages": messages},
        prompt=(Message("system", f"System {PAYLOAD}"), Message("user", PROMPT)),
    )
    info = store.add_dataset(
        ParsedDataset(path="hostile.jsonl", file_type="jsonl", format="chat", sha256="0" * 64, examples=[example]),
        name="hostile",
    )
    ds = info.dataset_id
    store.start_run(
        run_id="run-h", dataset_id=ds, stage="score", backend="fake", model="m", config={}, score_key="k1", n_examples=1
    )
    store.save_score(
        dataset_id=ds,
        example_id="x1",
        score_key="k1",
        run_id="run-h",
        status="ok",
        confidence=0.1,
        consistency=0.1,
        reflection=0.1,
        signals={"format": 0.2},
        fired=["format"],
        explanation={
            "samples": [{"answer": PAYLOAD, "match": False, "similarity": 0.1}],
            "reflections": [{"question": 1, "verdict": "B", "score": 0.0, "explanation": PAYLOAD, "weighted": True}],
            "reasons": {"format": [PAYLOAD]},
        },
    )
    store.replace_flags(ds, {"x1": True}, threshold=0.5, run_id="run-h")
    store.save_proposal(
        dataset_id=ds,
        example_id="x1",
        run_id="run-h",
        candidate=CANDIDATE,
        judge_confidence=0.6,
        verdicts=[{"order": "candidate_second", "p": 0.9, "verdict": "B", "explanation": PAYLOAD}],
        auto_applied=False,
    )


@pytest.fixture
def review_page(tmp_path, monkeypatch):
    path = tmp_path / "store.duckdb"
    with Store(path) as store:
        seed_hostile(store)
    monkeypatch.setenv(common.STORE_ENV, str(path))
    common.open_store.clear()
    at = AppTest.from_file(str(ROOT / "pages" / "3_Review.py"), default_timeout=30)
    at.session_state["annotator"] = "ann"
    yield at.run()
    common.open_store.clear()


def rendered(at) -> dict[str, list]:
    """Every element of the page by how its text is drawn: as text, as Markdown, or as raw HTML."""
    out: dict[str, list] = {"text": [], "markdown": [], "html": []}
    for node in [*at.main, *at.sidebar]:
        body = getattr(getattr(node, "proto", None), "body", None)
        if not isinstance(body, str):
            continue
        if node.type == "text":
            out["text"].append(body)
        elif node.type == "html":
            out["html"].append(body)
        elif node.type != "metric":
            out["markdown"].append((body, bool(getattr(node.proto, "allow_html", False))))
    return out


def test_review_card_shows_example_text_as_text_never_as_markup(review_page):
    at = review_page
    assert not at.exception, at.exception
    shown = rendered(at)
    assert PROMPT in shown["text"] and RESPONSE in shown["text"] and f"System {PAYLOAD}" in shown["text"]
    assert ("**Prompt**", False) in shown["markdown"] and CANDIDATE in [t.value for t in at.text_area]
    for body, allow_html in shown["markdown"]:  # Markdown (alerts, captions, headings): none quotes the data
        assert not any(m in body for m in RAW_MARKUP), body
        assert not allow_html or "<" not in body.replace("<br>", ""), body
    [diff] = [h for h in shown["html"] if "review-diff" in h]  # the word diff: the only HTML, all escaped
    parsed = DiffParser.of(re.sub(r'<span class="diff-arrow" aria-hidden="true"> → </span>', "", diff))
    assert parsed.tags <= {"div", "span", "del", "ins"} and parsed.attributes <= {"class", "style", "aria-hidden"}
    assert parsed.text(without="ins") == RESPONSE and parsed.text(without="del") == CANDIDATE
    assert "<script" not in diff and "<img" not in diff and "href" not in diff


class DiffParser(HTMLParser):
    """The tags, attribute names and text pieces (with the tag around each) of an HTML fragment."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.pieces: list[tuple[str, str]] = []
        self._open: list[str] = []

    @classmethod
    def of(cls, body: str) -> DiffParser:
        parser = cls()
        parser.feed(body)
        parser.close()
        return parser

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes |= {name for name, _ in attrs}
        self._open.append(tag)

    def handle_endtag(self, tag):
        self._open.pop()

    def handle_data(self, data):
        self.pieces.append((self._open[-1] if self._open else "", data))

    def text(self, *, without: str) -> str:
        return "".join(data for tag, data in self.pieces if tag != without)


def test_review_card_markdown_elements_have_no_unsafe_html(review_page):
    unsafe = [m for m in review_page.markdown if m.proto.allow_html]
    for m in unsafe:
        assert "<script" not in m.value and "onerror=" not in m.value, m.value


def test_import_page_previews_hostile_text_in_tables_not_markup(tmp_path, monkeypatch):
    data = tmp_path / "hostile.jsonl"
    bad_role = {"messages": [{"role": SCRIPT, "content": "q"}, {"role": "assistant", "content": "a"}]}
    data.write_text(
        json.dumps({"messages": [{"role": "user", "content": PROMPT}, {"role": "assistant", "content": RESPONSE}]})
        + "\n"
        + json.dumps(bad_role)
        + "\n",
        encoding="utf-8",
    )
    monkeypatch.setenv(common.STORE_ENV, str(tmp_path / "store.duckdb"))
    common.open_store.clear()
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).switch_page("pages/1_Import.py").run()
        at.radio(key="import_source").set_value("A file on this machine").run()
        at.text_input(key="import_path").input(str(data)).run()
        assert not at.exception, at.exception
        tables = [frame.value for frame in at.dataframe]
        shown = rendered(at)
    finally:
        common.open_store.clear()
    assert list(tables[0]["response"]) == [RESPONSE]  # the preview: a data grid draws cells as text
    assert any(SCRIPT in p for p in tables[-1]["problem"])  # the problems table quotes the bad role
    for body, _ in shown["markdown"]:
        assert not any(m in body for m in RAW_MARKUP), body
    assert shown["html"] == []


# -- (c) the app listens on this machine only, unless told otherwise -------------------------------------
def test_streamlit_config_binds_to_localhost():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["address"] == "127.0.0.1"
    assert config["browser"]["gatherUsageStats"] is False


def test_curate_app_help_shows_the_localhost_default(capsys):
    with pytest.raises(SystemExit, match="^0$"):
        cli.main(["app", "--help"])
    assert "127.0.0.1" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(("flags", "host"), [([], "127.0.0.1"), (["--host", "0.0.0.0"], "0.0.0.0")])
def test_curate_app_command_line_binds_the_host(flags, host, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "_run_forwarding_signals", lambda command: calls.append(command) or 0)
    assert cli.main(["app", "--store", str(tmp_path / "s.duckdb"), *flags]) == 0
    [command] = calls
    assert command[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert command[command.index("--server.address") + 1] == host
    assert command.count("--server.address") == 1
    assert command[command.index("--browser.gatherUsageStats") + 1] == "false"

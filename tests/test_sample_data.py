"""The committed sample datasets: reproducible, well-formed, and labelled as promised."""

from __future__ import annotations

import csv
import importlib.util
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"
GENERATOR = SAMPLE_DIR / "generate.py"
KINDS = {"swapped", "truncated", "wrong_value", "broken_format", "empty_or_irrelevant"}
DATASETS = ("support_intents", "passage_qa", "math_word_problems", "open_chat")
FINAL_LINE = re.compile(r"\n#### (-?\d+)$")
STEP = re.compile(r"(\d+) ([-+*/]) (\d+) = (-?\d+)")


def _load_generator():
    spec = importlib.util.spec_from_file_location("sample_data_generate", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def load(stem: str) -> list[dict]:
    """Each example as {"id", "prompt", "response", "record"} joined with its label."""
    if stem == "support_intents":
        recs = _jsonl(SAMPLE_DIR / "support_intents.jsonl")
        rows = [
            {
                "id": r["id"],
                "prompt": r["messages"][1]["content"],
                "response": r["messages"][-1]["content"],
                "record": r,
            }
            for r in recs
        ]
    elif stem == "passage_qa":
        recs = _jsonl(SAMPLE_DIR / "passage_qa.jsonl")
        rows = [{"id": r["id"], "prompt": r["input"], "response": r["output"], "record": r} for r in recs]
    elif stem == "math_word_problems":
        recs = json.loads((SAMPLE_DIR / "math_word_problems.json").read_text(encoding="utf-8"))
        assert isinstance(recs, list)
        rows = [
            {
                "id": r["id"],
                "prompt": r["conversations"][0]["value"],
                "response": r["conversations"][1]["value"],
                "record": r,
            }
            for r in recs
        ]
    else:
        with open(SAMPLE_DIR / "open_chat.csv", newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            assert reader.fieldnames == ["id", "prompt", "response"]
            recs = list(reader)
        rows = [{"id": r["id"], "prompt": r["prompt"], "response": r["response"], "record": r} for r in recs]
    labels = _jsonl(SAMPLE_DIR / f"{stem}.labels.jsonl")
    assert [lab["id"] for lab in labels] == [r["id"] for r in rows], "labels must follow file order"
    for row, lab in zip(rows, labels):
        row["label"] = lab
    return rows


def test_regeneration_is_byte_identical(tmp_path):
    subprocess.run([sys.executable, str(GENERATOR), str(tmp_path)], check=True, capture_output=True)
    produced = sorted(p.name for p in tmp_path.iterdir())
    assert produced == sorted(gen.OUTPUT_FILES)
    for name in gen.OUTPUT_FILES:
        assert (tmp_path / name).read_bytes() == (SAMPLE_DIR / name).read_bytes(), name


@pytest.mark.parametrize("stem", DATASETS)
def test_ids_sizes_and_error_rate(stem):
    rows = load(stem)
    assert 120 <= len(rows) <= 200
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids)
    assert all(isinstance(i, str) and re.fullmatch(r"[a-z]+-\d{4}", i) for i in ids)
    kinds = Counter(r["label"]["kind"] for r in rows if r["label"]["is_error"])
    assert set(kinds) == KINDS, kinds
    assert all((r["label"]["kind"] is None) == (not r["label"]["is_error"]) for r in rows)
    assert 0.15 <= sum(kinds.values()) / len(rows) <= 0.25


@pytest.mark.parametrize("stem", DATASETS)
def test_every_response_is_a_non_empty_string(stem):
    for r in load(stem):
        for text in (r["prompt"], r["response"], r["label"]["clean_response"]):
            assert isinstance(text, str) and text.strip(), r["id"]


@pytest.mark.parametrize("stem", DATASETS)
def test_records_do_not_leak_labels(stem):
    for r in load(stem):
        blob = json.dumps(r["record"])
        assert "is_error" not in blob and "clean_response" not in blob


@pytest.mark.parametrize("stem", DATASETS)
def test_clean_examples_are_unchanged_and_errors_differ(stem):
    rows = load(stem)
    clean_responses = {r["label"]["clean_response"] for r in rows}
    for r in rows:
        lab = r["label"]
        if not lab["is_error"]:
            assert r["response"] == lab["clean_response"], r["id"]
            continue
        resp, clean = r["response"], lab["clean_response"]
        assert resp != clean, r["id"]
        if lab["kind"] == "truncated":
            assert clean.startswith(resp) and len(resp) < len(clean), r["id"]
        elif lab["kind"] == "swapped":
            assert resp in clean_responses, r["id"]
        elif lab["kind"] == "empty_or_irrelevant":
            assert resp in gen.IRRELEVANT, r["id"]


def test_support_intents_formats():
    allowed = set(gen.INTENTS)
    channels = Counter()
    for r in load("support_intents"):
        msgs = r["record"]["messages"]
        assert [m["role"] for m in msgs] == ["system", "user", "assistant"]
        assert all(i in msgs[0]["content"] for i in allowed)
        channels[r["record"]["meta"]["channel"]] += 1
        clean = json.loads(r["label"]["clean_response"])
        assert set(clean) == {"intent", "urgency"}
        assert clean["intent"] in allowed and clean["urgency"] in {"low", "medium", "high"}
        kind = r["label"]["kind"]
        if kind == "wrong_value":
            wrong = json.loads(r["response"])
            assert wrong["intent"] in allowed and wrong["intent"] != clean["intent"]
        elif kind in {"broken_format", "truncated", "empty_or_irrelevant"}:
            with pytest.raises(json.JSONDecodeError, match="."):  # any reason: it must not parse
                json.loads(r["response"])
    assert set(channels) == {"email", "chat"}
    assert len({r["prompt"] for r in load("support_intents")}) == len(load("support_intents"))


def test_passage_qa_formats():
    for r in load("passage_qa"):
        rec = r["record"]
        assert rec["instruction"] == gen.QA_INSTRUCTION
        m = re.fullmatch(r"Passage: (.+)\n\nQuestion: (.+\?)", rec["input"], re.S)
        assert m, r["id"]
        passage = m.group(1)
        clean = r["label"]["clean_response"]
        assert passage.count(clean) == 1, r["id"]
        kind = r["label"]["kind"]
        if kind == "wrong_value":
            assert r["response"] in passage and r["response"] != clean
        elif kind == "swapped":
            assert r["response"] not in passage
        elif kind == "broken_format":
            assert clean in r["response"]


def test_math_formats_and_arithmetic():
    for r in load("math_word_problems"):
        lab = r["label"]
        conv = r["record"]["conversations"]
        assert [c["from"] for c in conv] == ["human", "gpt"]
        clean = lab["clean_response"]
        m = FINAL_LINE.search(clean)
        assert m and int(m.group(1)) == lab["answer"], r["id"]
        steps = clean[: m.start()].split("\n")
        assert 1 <= len(steps) <= 3
        for line in steps:
            for a, op, b, c in STEP.findall(line):
                a, b, c = int(a), int(b), int(c)
                expected = {"+": a + b, "-": a - b, "*": a * b, "/": a // b}[op]
                assert expected == c and (op != "/" or a % b == 0), (r["id"], line)
        last = STEP.findall(steps[-1])[-1]
        assert int(last[3]) == lab["answer"]
        kind = lab["kind"]
        if kind in {"broken_format", "truncated", "empty_or_irrelevant"}:
            assert not FINAL_LINE.search(r["response"]), r["id"]
        elif kind in {"wrong_value", "swapped"}:
            wrong = FINAL_LINE.search(r["response"])
            assert wrong and int(wrong.group(1)) != lab["answer"], r["id"]


def test_open_chat_formats():
    rows = load("open_chat")
    prompts = [r["prompt"] for r in rows]
    assert len(set(prompts)) == len(prompts)
    for r in rows:
        assert re.search(r"[A-Za-z]", r["response"]), r["id"]  # never parsed as a bare number
        if r["label"]["kind"] == "broken_format":
            assert r["label"]["clean_response"] in r["response"]


def test_open_chat_reads_cleanly_with_pandas():
    pd = pytest.importorskip("pandas")
    df = pd.read_csv(SAMPLE_DIR / "open_chat.csv")
    assert list(df.columns) == ["id", "prompt", "response"]
    assert not df.isna().any().any()
    assert all(isinstance(v, str) and v.strip() for v in df["response"])

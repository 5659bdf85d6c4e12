"""Small dataset files for the reading tests, written in each test's tmp_path so problems name them as given."""

from __future__ import annotations

import json
import re

import pytest


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Problems name the file as given; run in tmp_path so that is just ``data.jsonl``.

    Autouse in each test module that imports it (``from tests.support.ingest_files import in_tmp as in_tmp``).
    """
    monkeypatch.chdir(tmp_path)


def write(name: str, content: str | bytes) -> str:
    data = content.encode("utf-8") if isinstance(content, str) else content
    with open(name, "wb") as f:
        f.write(data)
    return name


def jsonl(*records) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def exactly(*lines: str) -> str:
    """A ``match=`` pattern for an error whose whole message is these lines."""
    return "^" + re.escape("\n".join(lines)) + "$"


def chat(q="q", a="a", **extra):
    return {**extra, "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


ALPACA = {"instruction": "Add.", "input": "2+2", "output": "4"}
GOOD = json.dumps(chat())

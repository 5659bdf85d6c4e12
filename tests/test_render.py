"""Rendering back: a record written in its own shape or converted to another, its extras kept."""

from __future__ import annotations

import copy

import pytest

from curation.errors import ConfigError, InvalidRecordError
from curation.formats import parse_record
from curation.records import FORMATS
from curation.render import render_record
from tests.support.shapes import EXPECTED_PROMPT, MULTI_TURN, QUESTION, SAMPLES, SYSTEM, msgs


@pytest.mark.parametrize("fmt", FORMATS)
def test_render_untouched_record_round_trips(fmt):
    record = copy.deepcopy(SAMPLES[fmt])
    prompt, response = parse_record(record, fmt)
    out = render_record(record, fmt, prompt, response, fmt)
    assert out == SAMPLES[fmt]
    assert list(out) == list(SAMPLES[fmt])
    assert record == SAMPLES[fmt]


@pytest.mark.parametrize("fmt", FORMATS)
def test_render_same_shape_replaces_only_the_response(fmt):
    record = copy.deepcopy(SAMPLES[fmt])
    prompt, _ = parse_record(record, fmt)
    out = render_record(record, fmt, prompt, "four", fmt)
    assert parse_record(out, fmt) == (EXPECTED_PROMPT, "four")
    assert record == SAMPLES[fmt]  # the input is not changed
    changed = {k for k in out if out[k] != record[k]}
    assert changed == {
        {"chat": "messages", "sharegpt": "conversations", "alpaca": "output", "prompt-response": "response"}[fmt]
    }


def test_render_same_shape_keeps_alpaca_input_split():
    record = {"instruction": "Translate.", "input": "chat", "output": "cat", "id": 7}
    prompt, _ = parse_record(record, "alpaca")
    assert render_record(record, "alpaca", prompt, "chat!", "alpaca") == {
        "instruction": "Translate.",
        "input": "chat",
        "output": "chat!",
        "id": 7,
    }


@pytest.mark.parametrize("source", FORMATS)
@pytest.mark.parametrize("target", FORMATS)
def test_convert_between_all_shapes(source, target):
    prompt, response = parse_record(SAMPLES[source], source)
    out = render_record(SAMPLES[source], source, prompt, "four", target)
    assert parse_record(out, target) == (EXPECTED_PROMPT, "four")
    expected = render_record(SAMPLES[target], target, EXPECTED_PROMPT, "four", target)
    assert out == expected
    assert list(out) == list(expected)  # extras (id first, meta last) stay in place


def test_convert_to_each_shape_exactly():
    prompt, _ = parse_record(SAMPLES["chat"], "chat")
    record = SAMPLES["chat"]
    assert render_record(record, "chat", prompt, "5", "alpaca") == {
        "id": "a1",
        "instruction": QUESTION,
        "input": "",
        "output": "5",
        "system": SYSTEM,
        "meta": {"src": "x"},
    }
    assert render_record(record, "chat", prompt, "5", "sharegpt") == {
        "id": "a1",
        "conversations": [
            {"from": "system", "value": SYSTEM},
            {"from": "human", "value": QUESTION},
            {"from": "gpt", "value": "5"},
        ],
        "meta": {"src": "x"},
    }
    assert render_record(record, "chat", prompt, "5", "prompt-response", prompt_col="q", response_col="a") == {
        "id": "a1",
        "q": QUESTION,
        "a": "5",
        "system": SYSTEM,
        "meta": {"src": "x"},
    }
    alpaca = {"instruction": "Translate.", "input": "chat", "output": "cat"}
    prompt, _ = parse_record(alpaca, "alpaca")
    assert render_record(alpaca, "alpaca", prompt, "cat", "chat") == {
        "messages": [{"role": "user", "content": "Translate.\n\nchat"}, {"role": "assistant", "content": "cat"}]
    }


def test_convert_from_named_columns_drops_them():
    record = {"q": "hi", "a": "hello", "n": 1}
    prompt, _ = parse_record(record, "prompt-response", prompt_col="q", response_col="a")
    assert render_record(record, "prompt-response", prompt, "hey", "alpaca", prompt_col="q", response_col="a") == {
        "instruction": "hi",
        "input": "",
        "output": "hey",
        "n": 1,
    }


def test_chat_to_alpaca_multi_turn_uses_history():
    record = {
        "messages": msgs(("system", "S"), ("user", "u1"), ("assistant", "a1"), ("user", "u2"), ("assistant", "a2"))
    }
    prompt, response = parse_record(record, "chat")
    out = render_record(record, "chat", prompt, response, "alpaca")
    assert out == {"instruction": "u2", "input": "", "output": "a2", "system": "S", "history": [["u1", "a1"]]}
    assert parse_record(out, "alpaca") == (MULTI_TURN, "a2")
    assert render_record(out, "alpaca", MULTI_TURN, "a2", "chat") == record


def test_chat_to_alpaca_folds_turns_that_do_not_alternate():
    record = {"messages": msgs(("user", "u1"), ("user", "u2"), ("assistant", "a"))}
    prompt, response = parse_record(record, "chat")
    out = render_record(record, "chat", prompt, response, "alpaca")
    assert out == {"instruction": "User: u1\n\nUser: u2", "input": "", "output": "a"}


def test_chat_to_prompt_response_folds_multi_turn():
    out = render_record({"messages": []}, "chat", MULTI_TURN, "a2", "prompt-response")
    assert out == {"prompt": "User: u1\n\nAssistant: a1\n\nUser: u2", "response": "a2", "system": "S"}


def test_convert_replaces_an_extra_field_named_like_a_target_field():
    record = {"output": "old extra", "messages": msgs(("user", "q"), ("assistant", "a"))}
    prompt, response = parse_record(record, "chat")
    out = render_record(record, "chat", prompt, response, "alpaca")
    assert out == {"instruction": "q", "input": "", "output": "a"}


def test_render_errors():
    with pytest.raises(ConfigError, match=r"format 'xml' is not one of"):
        render_record({}, "chat", (), "a", "xml")
    with pytest.raises(InvalidRecordError, match=r"messages has no assistant turn"):
        render_record({"messages": msgs(("user", "q"))}, "chat", (), "a", "chat")

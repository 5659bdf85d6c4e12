"""Tool calls written back: an untouched tool record unchanged, an edited response as its calls or as content."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation.errors import InvalidRecordError
from curation.formats import parse_record
from curation.records import ToolCall, calls_text
from curation.render import render_record
from tests.test_tool_calls import USER, WEATHER, _turns, agent, arguments, call, names, tool_calls


def _chat_record(calls: list[ToolCall], content: str | None, as_text: bool, earlier: list[ToolCall]) -> dict:
    def listed(cs, prefix):
        return [
            {
                "id": f"{prefix}{k}",
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments) if as_text else c.arguments},
            }
            for k, c in enumerate(cs)
        ]

    turns = [{"role": "user", "content": "Go."}]
    if earlier:
        turns.append({"role": "assistant", "content": None, "tool_calls": listed(earlier, "a")})
        turns += [{"role": "tool", "tool_call_id": f"a{k}", "content": str(k)} for k in range(len(earlier))]
    turns.append({"role": "assistant", "content": content, "tool_calls": listed(calls, "b")})
    return {"id": "x", "tools": [WEATHER], "messages": turns, "meta": {"n": 1}}


chat_records = st.builds(
    _chat_record,
    tool_calls,
    st.none() | st.just("") | st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=8),
    st.booleans(),
    st.lists(st.builds(ToolCall, names, arguments), max_size=2),
)


@settings(max_examples=60, deadline=None)
@given(chat_records)
def test_an_untouched_tool_record_is_written_back_unchanged(record):
    prompt, response = parse_record(record, "chat")
    assert render_record(record, "chat", prompt, response, "chat") == record


@settings(max_examples=60, deadline=None)
@given(chat_records, tool_calls)
def test_an_edited_tool_call_response_is_written_as_its_calls(record, edited):
    prompt, response = parse_record(record, "chat")
    out = render_record(record, "chat", prompt, calls_text(edited), "chat")
    assert parse_record(out, "chat") == (prompt, calls_text(edited))
    ids = [c["id"] for c in out["messages"][-1]["tool_calls"]]
    assert len(set(ids)) == len(ids)
    kept = record["messages"][-1]["tool_calls"]
    assert ids[: len(kept)] == [c["id"] for c in kept][: len(ids)]  # call k keeps call k's id


@settings(max_examples=40, deadline=None)
@given(chat_records)
def test_a_tool_record_survives_conversion_to_sharegpt_and_back(record):
    parsed = parse_record(record, "chat")
    sharegpt = render_record(record, "chat", *parsed, "sharegpt")
    assert parse_record(sharegpt, "sharegpt") == parsed
    chat = render_record(sharegpt, "sharegpt", *parsed, "chat")
    assert parse_record(chat, "chat") == parsed


def test_an_edit_keeps_ids_and_writes_arguments_as_json_text():
    record = agent()
    prompt, _ = parse_record(record, "chat")
    edited = (
        '{"content": "Both.", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Nice"}}, '
        '{"name": "t", "arguments": {}}]}'
    )
    last = render_record(record, "chat", prompt, edited, "chat")["messages"][-1]
    assert last == {
        "role": "assistant",
        "content": "Both.",
        "tool_calls": [
            call("call_2", "get_weather", '{"city": "Nice"}'),
            call("call_3", "t", "{}"),  # call_1 is taken by an earlier turn
        ],
    }


def test_an_edited_text_response_is_written_as_content():
    record = agent({"role": "assistant", "content": [{"type": "text", "text": "22 C."}], "weight": 1})
    prompt, response = parse_record(record, "chat")
    assert render_record(record, "chat", prompt, response, "chat") == record  # the parts stay parts
    last = render_record(record, "chat", prompt, "It is 22 C.", "chat")["messages"][-1]
    assert last == {"role": "assistant", "content": "It is 22 C.", "weight": 1}


def test_a_legacy_function_call_takes_one_call():
    record = _turns(USER, {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}})
    prompt, _ = parse_record(record, "chat")
    out = render_record(record, "chat", prompt, '[{"name": "g", "arguments": {"y": 1}}]', "chat")
    assert out["messages"][-1]["function_call"] == {"name": "g", "arguments": '{"y": 1}'}
    two = '[{"name": "g", "arguments": {}}, {"name": "h", "arguments": {}}]'
    with pytest.raises(InvalidRecordError, match=r"messages\[1\]\.function_call cannot be written: .*holds one call"):
        render_record(record, "chat", prompt, two, "chat")


def test_a_sharegpt_call_keeps_its_shape_when_edited():
    record = {
        "conversations": [
            {"from": "human", "value": "Paris?"},
            {"from": "function_call", "value": '{"name": "get_weather", "arguments": {"city": "Paris"}}'},
        ]
    }
    prompt, response = parse_record(record, "sharegpt")
    assert render_record(record, "sharegpt", prompt, response, "sharegpt") == record
    out = render_record(
        record, "sharegpt", prompt, '[{"name": "get_weather", "arguments": {"city": "Nice"}}]', "sharegpt"
    )
    assert out["conversations"][-1] == {
        "from": "function_call",
        "value": '{"name": "get_weather", "arguments": {"city": "Nice"}}',
    }
    with pytest.raises(InvalidRecordError, match=r"conversations\[1\]\.value cannot be written: .*not text"):
        render_record(
            record, "sharegpt", prompt, '{"content": "Hi", "tool_calls": [{"name": "f", "arguments": 1}]}', "sharegpt"
        )


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        ("It is sunny.", "the edited response is not valid JSON: the line starts with 'It'"),
        ('[{"name": "f"}]', "the edited response is not tool calls: tool call 1 must be an object"),
    ],
)
def test_an_edit_that_is_not_tool_calls_is_refused(edit, why):
    record = agent()
    prompt, _ = parse_record(record, "chat")
    with pytest.raises(InvalidRecordError, match=r"messages\[4\]\.tool_calls cannot be written: ") as info:
        render_record(record, "chat", prompt, edit, "chat")
    assert why in str(info.value)

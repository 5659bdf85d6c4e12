"""Tool calls, tool results and content parts (OpenAI chat, ShareGPT function_call / observation):
read into turns, compared as JSON, shown readably, and carried through import, review and export
(written back unchanged or as edited: ``tests/test_tool_calls_write_back.py``)."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from curation.confidence import answers_match
from curation.errors import CurationError, InvalidRecordError
from curation.export import export_dataset
from curation.formats import parse_record
from curation.ingest import import_file
from curation.records import Message, ToolCall, calls_text, parse_calls, render_turns

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
TOOLS_TEXT = (
    'Available tools:\n{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}'
)


def call(call_id: str, name: str, arguments: str) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def agent(last: dict | None = None, **extra) -> dict:
    """A user asks, the assistant calls a tool, the tool answers, the assistant calls again."""
    last = last or {
        "role": "assistant",
        "content": None,
        "tool_calls": [call("call_2", "get_weather", '{"city":"Lyon"}')],
    }
    return {
        "id": "t1",
        "tools": [WEATHER],
        "messages": [
            {"role": "system", "content": "Use the tools."},
            {"role": "user", "content": "Weather in Paris, then Lyon?"},
            {"role": "assistant", "content": None, "tool_calls": [call("call_1", "get_weather", '{"city": "Paris"}')]},
            {"role": "tool", "tool_call_id": "call_1", "content": "22 C"},
            last,
        ],
        **extra,
    }


# -- reading -------------------------------------------------------------------------------------------
def test_an_openai_agent_record_reads_into_turns_and_a_tool_call_response():
    prompt, response = parse_record(agent(), "chat")
    assert prompt == (
        Message("system", "Use the tools.\n\n" + TOOLS_TEXT),
        Message("user", "Weather in Paris, then Lyon?"),
        Message("assistant", '[{"name": "get_weather", "arguments": {"city": "Paris"}}]'),
        Message("tool", "22 C"),
    )
    assert response == '[{"name": "get_weather", "arguments": {"city": "Lyon"}}]'


def test_a_text_answer_after_the_tool_is_the_response():
    prompt, response = parse_record(agent({"role": "assistant", "content": "22 C in Paris.", "weight": 1}), "chat")
    assert response == "22 C in Paris." and prompt[-1] == Message("tool", "22 C")


def test_content_parts_are_joined_and_other_parts_named():
    parts = [{"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": "u"}}]
    record = {"messages": [{"role": "user", "content": parts}, {"role": "assistant", "content": "A cat."}]}
    assert parse_record(record, "chat") == ((Message("user", "What is this?\n[image_url part]"),), "A cat.")


def test_text_beside_calls_is_kept_in_the_canonical_text():
    last = {"role": "assistant", "content": "Checking.", "tool_calls": [call("c", "f", "{}")]}
    _, response = parse_record(agent(last), "chat")
    assert response == '{"content": "Checking.", "tool_calls": [{"name": "f", "arguments": {}}]}'


def test_legacy_functions_and_function_call_read_like_tools():
    record = {
        "functions": [{"name": "f"}],
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": '{"x": 1}'}},
            {"role": "function", "name": "f", "content": "2"},
            {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": '{"x": 2}'}},
        ],
    }
    prompt, response = parse_record(record, "chat")
    assert prompt[0] == Message("system", 'Available tools:\n{"name": "f"}')
    assert prompt[-1] == Message("tool", "2") and response == '[{"name": "f", "arguments": {"x": 2}}]'


def test_uniform_columns_with_nulls_read_as_absent_keys():
    """Parquet and Hugging Face rows give every turn every key, null where it has none."""
    record = {
        "tools": None,
        "messages": [
            {"role": "user", "content": "q", "tool_calls": None, "tool_call_id": None, "weight": None},
            {"role": "assistant", "content": "a", "tool_calls": [], "tool_call_id": None, "weight": 0},
        ],
    }
    assert parse_record(record, "chat") == ((Message("user", "q"),), "a")


def test_sharegpt_function_call_and_observation():
    record = {
        "tools": '[{"name": "get_weather"}]',
        "conversations": [
            {"from": "human", "value": "Paris?"},
            {"from": "function_call", "value": '{"name": "get_weather", "arguments": {"city": "Paris"}}'},
            {"from": "observation", "value": "22 C"},
            {"from": "function_call", "value": '[{"name": "get_weather", "arguments": "{\\"city\\": \\"Lyon\\"}"}]'},
        ],
    }
    prompt, response = parse_record(record, "sharegpt")
    assert [m.role for m in prompt] == ["system", "user", "assistant", "tool"]
    assert prompt[0].content == 'Available tools:\n[{"name": "get_weather"}]'
    assert response == '[{"name": "get_weather", "arguments": {"city": "Lyon"}}]'


def _turns(*turns: dict, **extra) -> dict:
    return {"messages": list(turns), **extra}


def _ids(call_id: str) -> dict:
    return {"tool_call_id": call_id, "content": "r"}


USER = {"role": "user", "content": "q"}
ANSWER = {"role": "assistant", "content": "a"}


@pytest.mark.parametrize(
    ("record", "fmt", "expected"),
    [
        (
            _turns(USER, {"role": "assistant", "tool_calls": [call("c1", "f", "{x: 1}")]}),
            "chat",
            "messages[1].tool_calls[0].function.arguments is not valid JSON: a key must be a string in double quotes",
        ),
        (
            _turns(USER, {"role": "assistant", "tool_calls": [call("c1", "f", "{}")]}, {"role": "tool", **_ids("c2")}),
            "chat",
            "messages[2].tool_call_id 'c2' matches no earlier tool call",
        ),
        (
            _turns({"role": "user", "content": [{"text": "q"}]}, ANSWER),
            "chat",
            "messages[0].content[0].type is missing",
        ),
        (
            _turns({"role": "user", "content": [{"type": "text"}]}, ANSWER),
            "chat",
            "messages[0].content[0].text is missing",
        ),
        (
            _turns({**USER, "tool_calls": [call("c1", "f", "{}")]}, ANSWER),
            "chat",
            "messages[0].tool_calls is allowed on assistant turns only",
        ),
        (_turns(USER, {**ANSWER, "weight": 2}), "chat", "messages[1].weight must be 0 or 1, got 2"),
        (_turns(USER, {**ANSWER, "weight": True}), "chat", "messages[1].weight must be 0 or 1, got boolean"),
        (
            _turns(USER, {"role": "assistant", "tool_calls": {"id": "c1"}}),
            "chat",
            "messages[1].tool_calls must be an array, got object",
        ),
        (
            _turns(USER, {"role": "assistant", "tool_calls": [{"id": "c1"}]}),
            "chat",
            "messages[1].tool_calls[0].function is missing",
        ),
        (
            _turns(USER, {"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}),
            "chat",
            "messages[1].tool_calls[0].function.name is missing",
        ),
        (_turns(USER, ANSWER, tools={"f": 1}), "chat", "tools must be an array, got object"),
        (
            {"conversations": [{"from": "human", "value": "q"}, {"from": "function_call", "value": '{"x": 1}'}]},
            "sharegpt",
            'conversations[1].value must be a tool call {"name": ..., "arguments": ...} or an array of them',
        ),
        (
            {"conversations": [{"from": "human", "value": "q"}, {"from": "function_call", "value": "[]"}]},
            "sharegpt",
            'conversations[1].value must be a tool call {"name": ..., "arguments": ...} or an array of them',
        ),
        (
            {
                "conversations": [
                    {"from": "human", "value": "q"},
                    {"from": "function_call", "value": '{"name": "f", "arguments": "{oops"}'},
                ]
            },
            "sharegpt",
            "conversations[1].value (call 1 arguments) is not valid JSON",
        ),
    ],
)
def test_broken_tool_records_name_the_line_and_field(record, fmt, expected):
    with pytest.raises(InvalidRecordError, match=r"^f\.jsonl:4: ") as info:
        parse_record(record, fmt, file="f.jsonl", line=4)
    assert expected in str(info.value)


# -- the text form: compared as JSON, shown readably ----------------------------------------------------
def test_tool_calls_compare_as_parsed_json():
    reference = calls_text([ToolCall("get_weather", {"city": "Paris", "unit": "C"})])
    assert answers_match('[{"arguments": {"unit": "C", "city": "Paris"}, "name": "get_weather"}]', reference)
    assert not answers_match('[{"name": "get_weather", "arguments": {"city": "Lyon", "unit": "C"}}]', reference)
    assert not answers_match("[]", reference)


def test_render_turns_shows_calls_and_tool_results_readably():
    prompt, _ = parse_record(agent(), "chat")
    assert render_turns(prompt[1:]) == (
        'User: Weather in Paris, then Lyon?\n\nAssistant: calls get_weather({"city": "Paris"})\n\nTool: 22 C'
    )
    text = Message("assistant", '{"content": "Let me look.", "tool_calls": [{"name": "f", "arguments": {}}]}')
    assert render_turns([text], roles=False) == "Let me look.\ncalls f({})"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("plain words", "must be a JSON array of tool calls"),
        ("[1", "is not valid JSON"),
        ("[]", "must be a non-empty array of tool calls"),
        ('[{"name": "f"}]', "tool call 1 must be an object"),
        ('[{"name": " ", "arguments": {}}]', "tool call 1 has an empty name"),
        ('{"tool_calls": [], "extra": 1}', 'must be an array of tool calls, or an object of "content"'),
        ('{"content": 3, "tool_calls": [{"name": "f", "arguments": {}}]}', '"content" must be a string'),
    ],
)
def test_parse_calls_says_what_is_wrong(text, why):
    with pytest.raises(ValueError, match=f"^{re.escape(why)}"):
        parse_calls(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12).filter(str.strip)
arguments = st.dictionaries(st.text(max_size=5), json_values, max_size=3)  # an object, as tools take
tool_calls = st.lists(st.builds(ToolCall, names, arguments), min_size=1, max_size=3)


@given(tool_calls, st.none() | st.text(max_size=10))
def test_calls_text_parses_back(calls, content):
    assert parse_calls(calls_text(calls, content)) == (content or None, tuple(calls))


# -- through the store: import, review, export ------------------------------------------------------------
def test_import_and_export_give_back_tool_records_and_refuse_a_broken_edit(store, tmp_path):
    records = [agent(), agent({"role": "assistant", "content": "Done."}, id="t2")]
    source = tmp_path / "agent.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    ds = import_file(store, source, name="agent").dataset.dataset_id
    out = export_dataset(store, tmp_path / "out.jsonl")
    assert [json.loads(line) for line in out.path.read_text(encoding="utf-8").splitlines()] == records

    before = '[{"name": "get_weather", "arguments": {"city": "Lyon"}}]'
    after = '[{"name": "get_weather", "arguments": {"city": "Nice"}}]'
    store.append_review(dataset_id=ds, example_id="t1", action="edit", annotator="ann", before=before, after=after)
    written = json.loads(export_dataset(store, tmp_path / "out.jsonl").path.read_text(encoding="utf-8").splitlines()[0])
    assert written["messages"][-1]["tool_calls"] == [call("call_2", "get_weather", '{"city": "Nice"}')]

    store.append_review(dataset_id=ds, example_id="t1", action="edit", annotator="ann", before=after, after="Nice.")
    with pytest.raises(CurationError, match=r"export: example 't1': messages\[4\]\.tool_calls cannot be written: "):
        export_dataset(store, tmp_path / "out.jsonl")


# -- the review card -----------------------------------------------------------------------------------
def test_the_card_shows_tool_calls_as_indented_json():
    def page():
        from ui import card

        card._response('[{"name": "get_weather", "arguments": {"city": "Paris"}}]')
        card._response("Plain text.")

    at = AppTest.from_function(page).run()
    assert not at.exception, at.exception
    assert at.code[0].value == json.dumps([{"name": "get_weather", "arguments": {"city": "Paris"}}], indent=2)
    assert [t.value for t in at.text] == ["Plain text."]

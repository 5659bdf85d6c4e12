"""Record shapes: detection, and parsing with field-level problems."""

from __future__ import annotations

import pytest

from curation.errors import ConfigError, InvalidRecordError
from curation.formats import detect_columns, detect_format, parse_record
from curation.records import FORMATS, Message, messages_of
from tests.support.shapes import ANSWER, EXPECTED_PROMPT, MULTI_TURN, SAMPLES, msgs


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (SAMPLES["chat"], "chat"),
        (SAMPLES["alpaca"], "alpaca"),
        (SAMPLES["sharegpt"], "sharegpt"),
        (SAMPLES["prompt-response"], "prompt-response"),
        ({"question": "q", "answer": "a"}, "prompt-response"),
        ({"prompt": "q", "completion": "a"}, "prompt-response"),
        ({"input": "q", "output": "a"}, "prompt-response"),
        ({"instruction": "q", "input": "x", "output": "a"}, "alpaca"),
        ({"prompt": "q", "response": "a", "completion": "b"}, None),  # ambiguous pair
        ({"prompt": "q"}, None),
        ({"text": "hello"}, None),
        ([1, 2], None),
        ("text", None),
    ],
)
def test_detect_format(record, expected):
    assert detect_format(record) == expected


def test_detect_columns_names_the_one_pair():
    assert detect_columns({"id": 1, "question": "q", "answer": "a"}) == ("question", "answer")
    assert detect_columns({"prompt": "q", "response": "a", "completion": "c"}) is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_parse_each_shape(fmt):
    prompt, response = parse_record(SAMPLES[fmt], fmt)
    assert prompt == EXPECTED_PROMPT
    assert response == ANSWER


def test_parse_chat_keeps_multi_turn_and_takes_last_assistant():
    record = {
        "messages": [
            {"role": "system", "content": "S"},
            {"role": "user", "content": "u1"},
            {"role": "assistant", "content": "a1"},
            {"role": "user", "content": "u2"},
            {"role": "assistant", "content": "a2"},
        ]
    }
    assert parse_record(record, "chat") == (MULTI_TURN, "a2")


def test_parse_alpaca_joins_input_and_reads_history():
    record = {"instruction": "Translate.", "input": "chat", "output": "cat"}
    assert parse_record(record, "alpaca") == (messages_of([("user", "Translate.\n\nchat")]), "cat")
    record = {"instruction": "u2", "input": None, "output": "a2", "system": "S", "history": [["u1", "a1"]]}
    assert parse_record(record, "alpaca") == (MULTI_TURN, "a2")


def test_parse_sharegpt_accepts_user_and_assistant():
    record = {"conversations": [{"from": "user", "value": "q"}, {"from": "assistant", "value": "a"}]}
    assert parse_record(record, "sharegpt") == ((Message("user", "q"),), "a")


def test_parse_prompt_response_with_named_columns():
    record = {"q": "hi", "a": "hello"}
    assert parse_record(record, "prompt-response", prompt_col="q", response_col="a") == (
        (Message("user", "hi"),),
        "hello",
    )


def test_parse_drops_empty_system_turn():
    record = {
        "messages": [
            {"role": "system", "content": ""},
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a"},
        ]
    }
    assert parse_record(record, "chat") == ((Message("user", "q"),), "a")


@pytest.mark.parametrize(
    ("record", "fmt", "expected"),
    [
        (
            {"messages": msgs(("user", "q"), ("assistant", None))},
            "chat",
            ["f.jsonl:3: messages[1].content must be a string, got null"],
        ),
        (
            {"messages": msgs(("user", "q"), ("bot", "a"))},
            "chat",
            ["f.jsonl:3: messages[1].role must be one of system, user, assistant, tool, function, got 'bot'"],
        ),
        (
            {"messages": msgs(("user", "q"), ("bot", "a"), ("assistant", 5))},
            "chat",
            [
                "f.jsonl:3: messages[1].role must be one of system, user, assistant, tool, function, got 'bot'",
                "f.jsonl:3: messages[2].content must be a string, got integer",
            ],
        ),
        (
            {"messages": [{"content": "q"}, {"role": "assistant"}]},
            "chat",
            ["f.jsonl:3: messages[0].role is missing", "f.jsonl:3: messages[1].content is missing"],
        ),
        ({"messages": msgs(("system", "s"), ("user", "q"))}, "chat", ["f.jsonl:3: messages has no assistant turn"]),
        (
            {"messages": msgs(("user", "q"), ("assistant", "a"), ("user", "more"))},
            "chat",
            ["f.jsonl:3: messages[2] comes after the last assistant turn (the response must be last)"],
        ),
        (
            {"messages": msgs(("system", "s"), ("assistant", "a"))},
            "chat",
            ["f.jsonl:3: messages has no user turn before the last assistant turn"],
        ),
        ({"messages": msgs(("user", ""), ("assistant", "a"))}, "chat", ["f.jsonl:3: messages[0].content is empty"]),
        (
            {"messages": msgs(("user", "q\x00"), ("assistant", "a"))},
            "chat",
            ["f.jsonl:3: messages[0].content contains a null character"],
        ),
        ({"messages": {"role": "user"}}, "chat", ["f.jsonl:3: messages must be an array, got object"]),
        ({"messages": []}, "chat", ["f.jsonl:3: messages is empty"]),
        ({"messages": ["hi"]}, "chat", ["f.jsonl:3: messages[0] must be an object, got string"]),
        ({"text": "x"}, "chat", ["f.jsonl:3: messages is missing"]),
        (
            {"conversations": [{"from": "human", "value": "q"}, {"from": "bot", "value": "a"}]},
            "sharegpt",
            [
                "f.jsonl:3: conversations[1].from must be one of human, user, gpt, assistant, system, "
                "function_call, observation, got 'bot'"
            ],
        ),
        (
            {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": None}]},
            "sharegpt",
            ["f.jsonl:3: conversations[1].value must be a string, got null"],
        ),
        (
            {"conversations": [{"from": "human", "value": "q"}]},
            "sharegpt",
            ["f.jsonl:3: conversations has no assistant turn"],
        ),
        ({"instruction": "q"}, "alpaca", ["f.jsonl:3: output is missing"]),
        (
            {"instruction": "", "output": ""},
            "alpaca",
            ["f.jsonl:3: instruction is empty"],  # an empty output is a finding, not an error
        ),
        ({"instruction": "q", "input": 3, "output": "a"}, "alpaca", ["f.jsonl:3: input must be a string, got integer"]),
        (
            {"instruction": "q", "output": "a", "history": [["u"]]},
            "alpaca",
            ["f.jsonl:3: history[0] must be a pair of non-empty strings [instruction, response]"],
        ),
        (
            {"instruction": "q", "output": "a", "history": "u"},
            "alpaca",
            ["f.jsonl:3: history must be an array, got string"],
        ),
        (
            {"instruction": "q", "output": "a", "system": 1},
            "alpaca",
            ["f.jsonl:3: system must be a string, got integer"],
        ),
        ({"prompt": "q"}, "prompt-response", ["f.jsonl:3: response is missing"]),
        (
            {"prompt": None, "response": float("nan")},
            "prompt-response",
            ["f.jsonl:3: prompt must be a string, got null", "f.jsonl:3: response must be a string, got NaN"],
        ),
        ({"prompt": "q", "response": ["a"]}, "prompt-response", ["f.jsonl:3: response must be a string, got array"]),
        (["not", "an", "object"], "chat", ["f.jsonl:3: record must be a JSON object, got array"]),
    ],
)
def test_parse_problems(record, fmt, expected):
    with pytest.raises(InvalidRecordError, match=r"^f\.jsonl:3: ") as info:
        parse_record(record, fmt, file="f.jsonl", line=3)
    assert [str(p) for p in info.value.problems] == expected


def test_parse_problem_default_file_name():
    with pytest.raises(InvalidRecordError, match=r"^<record>: output is missing$"):
        parse_record({"instruction": "q"}, "alpaca")


def test_parse_unknown_format():
    with pytest.raises(ConfigError, match=r"format 'jsonl' is not one of chat, alpaca"):
        parse_record({}, "jsonl")

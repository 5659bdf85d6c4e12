"""Write the bad-input corpus and its manifest, deterministically.

    python tests/data/bad/make_corpus.py [DEST]      (default: this folder)

Each entry is one file and the one-line error fragment the importer must report for it,
``file:line: field message`` (or ``file: message`` for a problem with the whole file);
``None`` means the file is valid and must import (formula-looking cells: data, not errors).
``EXPECTED.json`` maps every name to its fragment, including the entries of
:data:`AT_TEST_TIME`: a 10 MB single line, a directory and a missing file are made by
:func:`write_at_test_time` into a temporary folder, not stored in the repository.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import lzma
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
MANIFEST = "EXPECTED.json"
HUGE_BYTES = 10 * 1024 * 1024
DEEP = 100_000
FORMULAS = (
    '=HYPERLINK("http://x","click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
)

Entry = tuple[bytes, "str | None"]


def line(record: object) -> str:
    return json.dumps(record, ensure_ascii=False)


def chat(q: str = "What is 2 + 2?", a: str = "4", **extra: object) -> dict:
    return {**extra, "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def lines(*texts: str) -> bytes:
    return "".join(t + "\n" for t in texts).encode("utf-8")


def parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="none")
    return sink.getvalue()


GOOD = line(chat())


# -- JSONL ---------------------------------------------------------------------------------------------
def truncated_jsonl() -> Entry:
    data = lines(line(chat(id=1)), line(chat("What is 3 + 3?", "6", id=2))) + line(chat(id=3)).encode()[:30]
    return data, "truncated.jsonl:3: invalid JSON: the object is not closed: the line ends where a ':' should come"


def invalid_utf8_jsonl() -> Entry:
    data = lines(GOOD) + b'{"prompt": "caf\xe9", "response": "ok"}\n'
    return data, f"invalid_utf8.jsonl:2: not valid UTF-8: byte 0xe9 at byte offset {data.index(0xE9)}"


def null_byte_jsonl() -> Entry:
    data = lines(GOOD) + b'{"prompt": "a\x00b", "response": "ok"}\n'
    return data, f"null_byte.jsonl:2: contains a null byte at byte offset {data.index(0)}"


def null_char_jsonl() -> Entry:
    return lines(line(chat("a\u0000b"))), "null_char.jsonl:1: messages[0].content contains a null character"


def deep_nesting_jsonl() -> Entry:
    return lines(GOOD, "[" * DEEP + "]" * DEEP), "deep_nesting.jsonl:2: invalid JSON: maximum recursion depth"


def deep_metadata_jsonl() -> Entry:
    nested: object = "x"
    for _ in range(500):
        nested = [nested]
    return (lines(GOOD, line(chat(meta=nested))), "deep_metadata.jsonl:2: meta is nested more than 100 levels deep")


def wrong_types_jsonl() -> Entry:
    record = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": 4}]}
    return lines(GOOD, line(record)), "wrong_types.jsonl:2: messages[1].content must be a string, got integer"


def messages_not_array_jsonl() -> Entry:
    return (
        lines(GOOD, line({"messages": "user: hi"})),
        "messages_not_array.jsonl:2: messages must be an array, got string",
    )


def empty_messages_jsonl() -> Entry:
    return lines(GOOD, line({"messages": []})), "empty_messages.jsonl:2: messages is empty"


def mixed_shapes_jsonl() -> Entry:
    return (
        lines(GOOD, line({"instruction": "Add 2 and 2.", "output": "4"}), GOOD),
        "mixed_shapes.jsonl:2: record looks like alpaca but the file is chat",
    )


def duplicate_ids_jsonl() -> Entry:
    return (
        lines(line(chat(id="a")), line(chat("q2", id="b")), line(chat("q3", id="a"))),
        "duplicate_ids.jsonl:3: id 'a' duplicates line 1",
    )


def bad_id_type_jsonl() -> Entry:
    return lines(line(chat(id=[1]))), "bad_id_type.jsonl:1: id must be a string or integer, got array"


def empty_jsonl() -> Entry:
    return b"", "empty.jsonl: file has no records"


def blank_lines_jsonl() -> Entry:
    return b"\n\n   \n\t\r\n\n", "blank_lines.jsonl: file has no records"


def bom_bad_line_jsonl() -> Entry:
    return (
        b"\xef\xbb\xbf{'messages': []}\n" + lines(GOOD),
        "bom_bad_line.jsonl:1: invalid JSON: text must be in double quotes, not single quotes, at column 2",
    )


def no_assistant_jsonl() -> Entry:
    record = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "q"}]}
    return lines(GOOD, line(record)), "no_assistant.jsonl:2: messages has no assistant turn"


def unknown_role_jsonl() -> Entry:
    record = {"messages": [{"role": "bot", "content": "q"}, {"role": "assistant", "content": "a"}]}
    return (
        lines(line(record)),
        "unknown_role.jsonl:1: messages[0].role must be one of system, user, assistant, tool, function, got 'bot'",
    )


def sharegpt_bad_from_jsonl() -> Entry:
    good = {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}
    bad = {"conversations": [{"from": "human", "value": "q"}, {"from": "robot", "value": "a"}]}
    return (
        lines(line(good), line(bad)),
        "sharegpt_bad_from.jsonl:2: conversations[1].from must be one of "
        "human, user, gpt, assistant, system, function_call, observation, got 'robot'",
    )


def tool_chat(arguments: str = '{"city": "Paris"}', *, answers: str = "call_1") -> dict:
    """An OpenAI chat record with one tool call, its result (for call ``answers``) and the answer."""
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": arguments}}
    return {
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": answers, "content": "22 C"},
            {"role": "assistant", "content": "It is 22 C in Paris."},
        ]
    }


def tool_arguments_jsonl() -> Entry:
    return (
        lines(line(tool_chat()), line(tool_chat('{"city": Paris}'))),
        "tool_arguments.jsonl:2: messages[1].tool_calls[0].function.arguments is not valid JSON: "
        "not a JSON value at column 10: 'Paris' (text needs double quotes; true, false and null are lower case)",
    )


def tool_call_id_jsonl() -> Entry:
    return (
        lines(line(tool_chat()), line(tool_chat(answers="call_9"))),
        "tool_call_id.jsonl:2: messages[2].tool_call_id 'call_9' matches no earlier tool call",
    )


def content_part_type_jsonl() -> Entry:
    parts = [{"type": "text", "text": "What is in this picture?"}, {"image_url": {"url": "https://example.com/a.png"}}]
    record = {"messages": [{"role": "user", "content": parts}, {"role": "assistant", "content": "A cat."}]}
    return lines(GOOD, line(record)), "content_part_type.jsonl:2: messages[0].content[1].type is missing"


def sharegpt_function_call_jsonl() -> Entry:
    turns = [{"from": "human", "value": "Weather in Paris?"}, {"from": "function_call", "value": "get_weather(Paris)"}]
    record = {"conversations": [*turns, {"from": "observation", "value": "22 C"}, {"from": "gpt", "value": "22 C."}]}
    return (
        lines(line(record)),
        "sharegpt_function_call.jsonl:1: conversations[1].value is not valid JSON: "
        "the line starts with 'get_weather(Paris)'",
    )


def alpaca_numeric_output_jsonl() -> Entry:
    return (
        lines(
            line({"instruction": "Add 2 and 2.", "input": "", "output": "4"}),
            line({"instruction": "Add 3 and 3.", "input": "", "output": 6}),
        ),
        "alpaca_numeric_output.jsonl:2: output must be a string, got integer",
    )


def string_line_jsonl() -> Entry:
    return lines(GOOD, '"just a string"'), "string_line.jsonl:2: record must be a JSON object, got string"


def huge_int_jsonl() -> Entry:
    return (
        lines(GOOD, '{"id": ' + "9" * 5000 + ', "messages": []}'),
        "huge_int.jsonl:2: invalid JSON: Exceeds the limit (4300 digits) for integer string conversion",
    )


def huge_float_jsonl() -> Entry:
    return (lines('{"prompt": "q", "response": 1e999}'), "huge_float.jsonl:1: response must be a string, got number")


def nan_infinity_jsonl() -> Entry:
    return (
        lines('{"prompt": "q", "response": "a", "score": Infinity}', '{"prompt": "q2", "response": NaN}'),
        "nan_infinity.jsonl:2: response must be a string, got NaN",
    )


def long_id_jsonl() -> Entry:
    long = "x" * 10_000
    return (
        lines(line(chat(id=long)), line(chat("q2", id=long))),
        f"long_id.jsonl:2: id '{long[:60]}…' (10000 characters) duplicates line 1",
    )


def control_chars_jsonl() -> Entry:
    return (
        lines(GOOD, '{"prompt": "bell\x07 and escape\x1b[2J", "response": "a"}'),
        "control_chars.jsonl:2: invalid JSON: a raw control character inside a string at column 17",
    )


def unpaired_surrogate_jsonl() -> Entry:
    return (
        lines(GOOD, '{"messages": [{"role": "user", "content": "\\ud83d"}, {"role": "assistant", "content": "a"}]}'),
        "unpaired_surrogate.jsonl:2: contains an unpaired surrogate escape (\\ud83d), which is not valid Unicode",
    )


def unknown_shape_jsonl() -> Entry:
    return (
        lines(line({"text": "t", "label": 1})),
        "unknown_shape.jsonl: cannot tell the record format: expected messages (chat)",
    )


def formulas_jsonl() -> Entry:
    return lines(*(line({"id": i, "prompt": f, "response": f}) for i, f in enumerate(FORMULAS))), None


# -- JSON ----------------------------------------------------------------------------------------------
def truncated_json() -> Entry:
    text = json.dumps([chat(), chat("q2", "a2"), chat("q3", "a3")], indent=2)
    return text[: len(text) * 2 // 3].encode(), (
        "truncated.json: invalid JSON: the object is not closed: a '}' is missing at the end of the file"
    )


def array_non_object_json() -> Entry:
    return (
        json.dumps([chat(), 42, chat("q3")]).encode(),
        "array_non_object.json:2: record must be a JSON object, got integer",
    )


def top_level_object_json() -> Entry:
    return (
        json.dumps({"data": [chat(), chat("q2")]}, indent=2).encode(),
        "top_level_object.json: must hold a JSON array of records (or one JSON object per line)",
    )


def pretty_record_json() -> Entry:
    return (
        json.dumps({"prompt": "q", "response": "a"}, indent=2).encode(),
        "pretty_record.json: must hold a JSON array of records (or one JSON object per line), "
        "not one object over several lines",
    )


def top_level_string_json() -> Entry:
    return b'"records"\n', "top_level_string.json: must hold a JSON array of records (or one JSON object per line)"


def invalid_utf8_json() -> Entry:
    data = b'[\n  {"prompt": "q", "response": "a"},\n  {"prompt": "caf\xe9", "response": "b"}\n]\n'
    return data, f"invalid_utf8.json: not valid UTF-8: byte 0xe9 at byte offset {data.index(0xE9)} (line 3)"


def null_byte_json() -> Entry:
    data = b'[\n  {"prompt": "q", "response": "a\x00"}\n]\n'
    return data, f"null_byte.json: contains a null byte at byte offset {data.index(0)} (line 2)"


def deep_nesting_json() -> Entry:
    return ("[" * DEEP + "]" * DEEP).encode(), "deep_nesting.json: invalid JSON: maximum recursion depth"


def deep_metadata_json() -> Entry:
    nested: object = 1
    for _ in range(300):
        nested = {"k": nested}
    return (
        json.dumps([chat(), {**chat("q2"), "meta\x1b[2J": nested}]).encode(),  # a key that clears a terminal
        "deep_metadata.json:2: meta\\x1b[2J is nested more than 100 levels deep",
    )


def empty_array_json() -> Entry:
    return b"[]\n", "empty_array.json: file has no records"


def wrong_types_json() -> Entry:
    return (
        json.dumps([{"instruction": "Add.", "output": "4"}, {"instruction": None, "output": "5"}]).encode(),
        "wrong_types.json:2: instruction must be a string, got null",
    )


def nan_infinity_json() -> Entry:
    return (b'[{"prompt": "q", "response": Infinity}]', "nan_infinity.json:1: response must be a string, got number")


def trailing_comma_json() -> Entry:
    return (
        b'[{"prompt": "q", "response": "a"},]',
        "trailing_comma.json: invalid JSON: trailing comma: the ',' before the ']' at line 1 column 35",
    )


def mixed_shapes_json() -> Entry:
    return (
        json.dumps([chat(), chat("q2"), {"conversations": [{"from": "human", "value": "q"}]}]).encode(),
        "mixed_shapes.json:3: record looks like sharegpt but the file is chat",
    )


# -- CSV -----------------------------------------------------------------------------------------------
def missing_columns_csv() -> Entry:
    return (b"question,reply\nq,a\n", "missing_columns.csv: column 'prompt' not found; columns are: question, reply")


def ragged_rows_csv() -> Entry:
    return b"prompt,response\nq,a\nq2,a2,extra\nq3\n", "ragged_rows.csv:2: row has 3 cells but the header has 2"


def unterminated_quote_csv() -> Entry:
    return (
        b'prompt,response\nq,a\n"never closed,a2\nq3,a3\n',
        "unterminated_quote.csv:2: opens a quoted field that is never closed (it runs to the end of the file)",
    )


def unterminated_quote_header_csv() -> Entry:
    return (
        b'prompt,"response\nq,a\n',
        "unterminated_quote_header.csv: header opens a quoted field that is never closed",
    )


def invalid_utf8_csv() -> Entry:
    data = b"prompt,response\nq,a\ncaf\xe9,b\n"
    return data, f"invalid_utf8.csv:2: not valid UTF-8: byte 0xe9 at byte offset {data.index(0xE9)}"


def null_byte_csv() -> Entry:
    data = b"prompt,response\nq,a\nq\x00,b\n"
    return data, f"null_byte.csv:2: contains a null byte at byte offset {data.index(0)}"


def empty_response_csv() -> Entry:
    return b"prompt,response\nq,a\nq2,\n", None  # an empty response is a finding to review, not an error


def empty_prompt_csv() -> Entry:
    return b"prompt,response\nq,a\n,b\n", "empty_prompt.csv:2: prompt is empty"


def header_only_csv() -> Entry:
    return b"prompt,response\n", "header_only.csv: file has no records"


def empty_csv() -> Entry:
    return b"", "empty.csv: file has no records"


def duplicate_header_csv() -> Entry:
    return b"prompt,prompt,response\nq,q,a\n", "duplicate_header.csv: column 'prompt' appears more than once"


def duplicate_ids_csv() -> Entry:
    return b"id,prompt,response\n1,q,a\n2,q2,a2\n1,q3,a3\n", "duplicate_ids.csv:3: id '1' duplicates line 1"


def bad_header_utf8_csv() -> Entry:
    return b"pr\xffompt,response\nq,a\n", "bad_header_utf8.csv: header is not valid UTF-8 text"


def control_chars_csv() -> Entry:
    return (
        b"question\x1b]0;pwned\x07,reply\nq,a\n",
        "control_chars.csv: column 'prompt' not found; columns are: question\\x1b]0;pwned\\x07, reply",
    )


def formulas_csv() -> Entry:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")  # so a cell holding \r is quoted
    writer.writerow(["id", "prompt", "response"])
    writer.writerows([i, f, f] for i, f in enumerate(FORMULAS))
    return out.getvalue().encode("utf-8"), None


# -- Parquet -------------------------------------------------------------------------------------------
def int_response_parquet() -> Entry:
    table = pa.table({"prompt": pa.array(["q", "q2"]), "response": pa.array([4, 5], pa.int64())})
    return parquet(table), "int_response.parquet:1: response must be a string, got integer"


def nulls_parquet() -> Entry:
    table = pa.table({"prompt": pa.array(["q", None]), "response": pa.array(["a", "b"])})
    return parquet(table), "nulls.parquet:2: prompt must be a string, got null"


def binary_response_parquet() -> Entry:
    table = pa.table({"prompt": pa.array(["q"]), "response": pa.array([b"a"], pa.binary())})
    return parquet(table), "binary_response.parquet:1: response must be a string, got bytes"


def missing_columns_parquet() -> Entry:
    table = pa.table({"prompt": pa.array(["q"]), "answer_text": pa.array(["a"])})
    return parquet(table), "missing_columns.parquet: column 'response' not found; columns are: prompt, answer_text"


def bad_role_parquet() -> Entry:
    rows = [chat(), {"messages": [{"role": "user", "content": "q"}, {"role": "gpt", "content": "a"}]}]
    return (
        parquet(pa.Table.from_pylist(rows)),
        "bad_role.parquet:2: messages[1].role must be one of system, user, assistant, tool, function, got 'gpt'",
    )


def tool_arguments_parquet() -> Entry:
    """Uniform columns: every turn has every key, null where the turn has none."""
    rows = [tool_chat(), tool_chat("{'city': 'Paris'}")]
    return (
        parquet(pa.Table.from_pylist(rows)),
        "tool_arguments.parquet:2: messages[1].tool_calls[0].function.arguments is not valid JSON: "
        "text must be in double quotes, not single quotes, at column 2",
    )


def no_rows_parquet() -> Entry:
    table = pa.table({"prompt": pa.array([], pa.string()), "response": pa.array([], pa.string())})
    return parquet(table), "no_rows.parquet: file has no records"


def truncated_parquet() -> Entry:
    data = parquet(pa.table({"prompt": pa.array(["q"] * 50), "response": pa.array(["a"] * 50)}))
    return data[: len(data) // 2], "truncated.parquet: cannot read Parquet: "


def not_parquet_parquet() -> Entry:
    return b"prompt,response\nq,a\n", "not_parquet.parquet: cannot read Parquet: "


def empty_parquet() -> Entry:
    return b"", "empty.parquet: cannot read Parquet: "


# -- compressed --------------------------------------------------------------------------------------
def truncated_jsonl_gz() -> Entry:
    data = gzip.compress(lines(*[GOOD] * 40), mtime=0)
    return data[: len(data) // 2], "truncated.jsonl.gz: the gzip file is cut short"


def not_gzip_jsonl_gz() -> Entry:
    return lines(GOOD), "not_gzip.jsonl.gz: not a valid gzip file"


def bad_json_jsonl_xz() -> Entry:
    return lzma.compress(lines(GOOD, '{"prompt": "q", "response": "a"')), "bad_json.jsonl.xz:2: invalid JSON: "


# -- other ---------------------------------------------------------------------------------------------
def notes_txt() -> Entry:
    return lines(GOOD), (
        "notes.txt: unknown file type '.txt'; expected one of .jsonl, .ndjson, .json, .csv, .parquet"
        " (optionally compressed: .gz, .bz2, .xz, .zst)"
    )


def no_extension() -> Entry:
    return lines(GOOD), "no_extension: unknown file type '(no extension)'"


BUILDERS: dict[str, Callable[[], Entry]] = {
    "truncated.jsonl": truncated_jsonl,
    "invalid_utf8.jsonl": invalid_utf8_jsonl,
    "null_byte.jsonl": null_byte_jsonl,
    "null_char.jsonl": null_char_jsonl,
    "deep_nesting.jsonl": deep_nesting_jsonl,
    "deep_metadata.jsonl": deep_metadata_jsonl,
    "wrong_types.jsonl": wrong_types_jsonl,
    "messages_not_array.jsonl": messages_not_array_jsonl,
    "empty_messages.jsonl": empty_messages_jsonl,
    "mixed_shapes.jsonl": mixed_shapes_jsonl,
    "duplicate_ids.jsonl": duplicate_ids_jsonl,
    "bad_id_type.jsonl": bad_id_type_jsonl,
    "empty.jsonl": empty_jsonl,
    "blank_lines.jsonl": blank_lines_jsonl,
    "bom_bad_line.jsonl": bom_bad_line_jsonl,
    "no_assistant.jsonl": no_assistant_jsonl,
    "unknown_role.jsonl": unknown_role_jsonl,
    "sharegpt_bad_from.jsonl": sharegpt_bad_from_jsonl,
    "tool_arguments.jsonl": tool_arguments_jsonl,
    "tool_call_id.jsonl": tool_call_id_jsonl,
    "content_part_type.jsonl": content_part_type_jsonl,
    "sharegpt_function_call.jsonl": sharegpt_function_call_jsonl,
    "alpaca_numeric_output.jsonl": alpaca_numeric_output_jsonl,
    "string_line.jsonl": string_line_jsonl,
    "huge_int.jsonl": huge_int_jsonl,
    "huge_float.jsonl": huge_float_jsonl,
    "nan_infinity.jsonl": nan_infinity_jsonl,
    "long_id.jsonl": long_id_jsonl,
    "control_chars.jsonl": control_chars_jsonl,
    "unpaired_surrogate.jsonl": unpaired_surrogate_jsonl,
    "unknown_shape.jsonl": unknown_shape_jsonl,
    "formulas.jsonl": formulas_jsonl,
    "truncated.json": truncated_json,
    "array_non_object.json": array_non_object_json,
    "top_level_object.json": top_level_object_json,
    "top_level_string.json": top_level_string_json,
    "pretty_record.json": pretty_record_json,
    "invalid_utf8.json": invalid_utf8_json,
    "null_byte.json": null_byte_json,
    "deep_nesting.json": deep_nesting_json,
    "deep_metadata.json": deep_metadata_json,
    "empty_array.json": empty_array_json,
    "wrong_types.json": wrong_types_json,
    "nan_infinity.json": nan_infinity_json,
    "trailing_comma.json": trailing_comma_json,
    "mixed_shapes.json": mixed_shapes_json,
    "missing_columns.csv": missing_columns_csv,
    "ragged_rows.csv": ragged_rows_csv,
    "unterminated_quote.csv": unterminated_quote_csv,
    "unterminated_quote_header.csv": unterminated_quote_header_csv,
    "invalid_utf8.csv": invalid_utf8_csv,
    "null_byte.csv": null_byte_csv,
    "empty_response.csv": empty_response_csv,
    "empty_prompt.csv": empty_prompt_csv,
    "header_only.csv": header_only_csv,
    "empty.csv": empty_csv,
    "duplicate_header.csv": duplicate_header_csv,
    "duplicate_ids.csv": duplicate_ids_csv,
    "bad_header_utf8.csv": bad_header_utf8_csv,
    "control_chars.csv": control_chars_csv,
    "formulas.csv": formulas_csv,
    "int_response.parquet": int_response_parquet,
    "nulls.parquet": nulls_parquet,
    "binary_response.parquet": binary_response_parquet,
    "missing_columns.parquet": missing_columns_parquet,
    "bad_role.parquet": bad_role_parquet,
    "tool_arguments.parquet": tool_arguments_parquet,
    "no_rows.parquet": no_rows_parquet,
    "truncated.parquet": truncated_parquet,
    "not_parquet.parquet": not_parquet_parquet,
    "empty.parquet": empty_parquet,
    "truncated.jsonl.gz": truncated_jsonl_gz,
    "not_gzip.jsonl.gz": not_gzip_jsonl_gz,
    "bad_json.jsonl.xz": bad_json_jsonl_xz,
    "notes.txt": notes_txt,
    "no_extension": no_extension,
}

#: Entries made at test time (too big to store, or not storable in git), with their fragments.
AT_TEST_TIME: dict[str, str | None] = {
    "huge_line.jsonl": "huge_line.jsonl:1: invalid JSON: unterminated string starting at column 29",
    "huge_valid.jsonl": None,
    "directory.jsonl": "directory.jsonl: a folder with no data files",
    "missing.jsonl": "missing.jsonl: file not found",
}


def expected() -> dict[str, str | None]:
    """Every entry's fragment (``None``: valid), stored files first."""
    return {**{name: build()[1] for name, build in BUILDERS.items()}, **AT_TEST_TIME}


def write_corpus(dest: Path) -> list[Path]:
    """Write every stored file and ``EXPECTED.json`` into ``dest``; returns the paths written."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in BUILDERS.items():
        (dest / name).write_bytes(build()[0])
        written.append(dest / name)
    manifest = dest / MANIFEST
    manifest.write_text(json.dumps(expected(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return [*written, manifest]


def write_at_test_time(dest: Path) -> dict[str, Path]:
    """Make the :data:`AT_TEST_TIME` entries in ``dest``; returns name -> path (missing.jsonl is not made)."""
    dest.mkdir(parents=True, exist_ok=True)
    head = b'{"prompt": "q", "response": "'
    (dest / "huge_line.jsonl").write_bytes(head + b"a" * (HUGE_BYTES - len(head)) + b"\n")  # string never closed
    body = line({"prompt": "Repeat the letter a.", "response": "a" * HUGE_BYTES})
    (dest / "huge_valid.jsonl").write_text(body + "\n", encoding="utf-8")
    (dest / "directory.jsonl").mkdir(exist_ok=True)
    return {name: dest / name for name in AT_TEST_TIME}


if __name__ == "__main__":
    for path in write_corpus(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(path)

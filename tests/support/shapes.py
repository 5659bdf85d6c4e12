"""One record of each shape (chat, alpaca, ShareGPT, prompt-response) for the parsing and rendering tests."""

from __future__ import annotations

from curation.records import messages_of

SYSTEM = "Be brief."
QUESTION = "What is 2+2?"
ANSWER = "4"

# One record of each shape, all meaning the same (system, question) -> answer, with extras.
SAMPLES = {
    "chat": {
        "id": "a1",
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": ANSWER},
        ],
        "meta": {"src": "x"},
    },
    "alpaca": {
        "id": "a1",
        "instruction": QUESTION,
        "input": "",
        "output": ANSWER,
        "system": SYSTEM,
        "meta": {"src": "x"},
    },
    "sharegpt": {
        "id": "a1",
        "conversations": [
            {"from": "system", "value": SYSTEM},
            {"from": "human", "value": QUESTION},
            {"from": "gpt", "value": ANSWER},
        ],
        "meta": {"src": "x"},
    },
    "prompt-response": {"id": "a1", "prompt": QUESTION, "response": ANSWER, "system": SYSTEM, "meta": {"src": "x"}},
}
EXPECTED_PROMPT = messages_of([("system", SYSTEM), ("user", QUESTION)])

MULTI_TURN = messages_of([("system", "S"), ("user", "u1"), ("assistant", "a1"), ("user", "u2")])


def msgs(*pairs):
    return [{"role": r, "content": c} for r, c in pairs]

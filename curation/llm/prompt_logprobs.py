"""Likelihoods from an endpoint that scores a request's own tokens (vLLM's ``prompt_logprobs``), pure.

vLLM's chat API, asked for ``prompt_logprobs``, returns one entry per token of the rendered
conversation: ``{token_id: {"logprob", "rank", "decoded_token"}}``, the first token's ``None``.
Sent with the response as the last assistant turn, closed by the chat template
(``add_generation_prompt`` and ``continue_final_message`` off), that is the cheap tier's
likelihood pass in one request: the response's tokens teacher-forced after its prompt and the
end-of-turn token after them. The response is found in the decoded tokens by its text (its last
occurrence: the prompt may quote it), so no tokenizer is needed on this side.

In: a reply's parsed JSON body (read by :func:`prompt_tokens`) and the response. Out: the
response's token log-probabilities and the end-of-turn one, or
:class:`~curation.llm.base.TokenScores`; ``None`` where the reply holds none or the response
cannot be found in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from curation.llm.base import TokenScores

#: What a chat request adds to ask vLLM for its prompt's log-probabilities, the response's turn closed.
EXTRA_BODY = {"prompt_logprobs": 0, "add_generation_prompt": False, "continue_final_message": False}


@dataclass(frozen=True)
class PromptToken:
    """One token of the rendered request: its text (as the server decoded it) and log-probability."""

    text: str
    logprob: float | None


def prompt_tokens(data: Any) -> list[PromptToken] | None:
    """The request's tokens from a reply body (vLLM puts them at the top of a chat reply, and
    in each choice of a completions reply); None when the reply holds none or one can't be read.

    A position whose entry offers several tokens is read through ``prompt_token_ids`` (which
    vLLM sends with them); with ``prompt_logprobs: 0`` it holds only the token itself.
    """
    if not isinstance(data, dict):
        return None
    entries = data.get("prompt_logprobs")
    if entries is None and isinstance(data.get("choices"), list) and data["choices"]:
        first = data["choices"][0]
        entries = first.get("prompt_logprobs") if isinstance(first, dict) else None
    if not isinstance(entries, list) or not entries:
        return None
    ids = data.get("prompt_token_ids")
    tokens = []
    for position, entry in enumerate(entries):
        if entry is None:
            tokens.append(PromptToken("", None))
            continue
        if not isinstance(entry, dict) or not entry:
            return None
        if len(entry) == 1:
            (found,) = entry.values()
        elif isinstance(ids, list) and position < len(ids) and str(ids[position]) in map(str, entry):
            found = {str(k): v for k, v in entry.items()}[str(ids[position])]
        else:
            return None
        if not isinstance(found, dict) or not isinstance(found.get("logprob"), int | float):
            return None
        tokens.append(PromptToken(str(found.get("decoded_token") or ""), float(found["logprob"])))
    return tokens


def response_logprobs(tokens: list[PromptToken], response: str) -> tuple[list[float], float | None] | None:
    """The log-probabilities of the tokens that spell ``response`` (its last occurrence in the
    decoded text; its stripped form where the template trims it), and that of the token right
    after them (the end of the turn; None when the response ends the text). None when the
    response is empty or not found."""
    text = "".join(t.text for t in tokens)
    wanted = response if response in text else response.strip()
    start = text.rfind(wanted) if wanted else -1
    if start < 0:
        return None
    end = start + len(wanted)
    inside, offset = [], 0
    for index, token in enumerate(tokens):
        if offset < end and offset + len(token.text) > start:
            inside.append(index)
        offset += len(token.text)
    if not inside or any(tokens[i].logprob is None for i in inside):
        return None
    after = inside[-1] + 1
    return [tokens[i].logprob for i in inside], (tokens[after].logprob if after < len(tokens) else None)


def token_scores(tokens: list[PromptToken], response: str) -> TokenScores | None:
    """A likelihood pass read from a reply's :func:`prompt_tokens` (see the module docstring);
    None where the response is not among them."""
    found = response_logprobs(tokens, response)
    if found is None:
        return None
    logprobs, end = found
    return TokenScores.from_logprobs(logprobs, [], end=end)

"""The embedded backend with real GGUF models shipped in PyPI packages (no network)."""

import hashlib
import socket

import numpy as np
import pytest

from curation.config import LLMConfig
from curation.errors import ConfigError
from curation.llm.base import ChatBackend, ChatRequest
from curation.llm.embedded import _pack
from curation.llm.engine import KV_CONTEXTS
from curation.llm.packaged import PACKAGED_MODELS, resolve_model_path
from curation.llm.sampling import Job
from curation.records import messages_of

pytestmark = pytest.mark.model

QUESTION = messages_of([("user", "What is the capital of France? Answer with one word.")])


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_packaged_qwen_assembles_to_the_published_hash(tmp_path):
    spec = PACKAGED_MODELS["qwen2.5-coder-0.5b"]
    path = resolve_model_path(spec.name, model_dir=tmp_path)
    assert path.stat().st_size == spec.size
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == spec.sha256
    assert [p.name for p in tmp_path.iterdir()] == [spec.filename]  # no temporary file left


def test_unknown_model_names_the_choices():
    with pytest.raises(ConfigError, match="neither a packaged model .*qwen2.5-coder-0.5b"):
        resolve_model_path("no-such-model")


def test_small_model_answers_offline(small_backend, no_network):
    assert isinstance(small_backend, ChatBackend)
    [result] = small_backend.complete(ChatRequest(messages=QUESTION, max_tokens=16))
    assert result.text.strip()
    assert result.prompt_tokens > 5 and 0 < result.completion_tokens <= 16
    assert result.finish_reason in ("stop", "length")


def test_greedy_is_deterministic_and_samples_differ(small_backend):
    greedy = ChatRequest(messages=QUESTION, max_tokens=12)
    assert small_backend.complete(greedy)[0].text == small_backend.complete(greedy)[0].text
    sampled = small_backend.complete(ChatRequest(messages=QUESTION, max_tokens=24, temperature=1.0, n=4))
    assert len(sampled) == 4
    assert len({r.text for r in sampled}) > 1


def test_stop_sequence_and_max_tokens(small_backend):
    request = ChatRequest(
        messages=messages_of([("user", "Count from 1 to 20 separated by commas.")]), max_tokens=40, stop=("5",)
    )
    [result] = small_backend.complete(request)
    assert "5" not in result.text and result.finish_reason == "stop"
    [short] = small_backend.complete(ChatRequest(messages=QUESTION, max_tokens=2))
    assert short.completion_tokens <= 2


def test_a_reply_prefix_begins_the_reply_and_the_model_continues_it(small_backend):
    europe = messages_of([("user", "Name a large city in Europe.")])
    prefix = "The city I name is Rome. Rome is the capital of"
    [result] = small_backend.complete(ChatRequest(messages=europe, max_tokens=4, reply_prefix=prefix))
    assert result.text.startswith(prefix) and "Italy" in result.text[len(prefix) :]
    assert result.completion_tokens <= 4  # the prefix is not counted as generated
    [plain] = small_backend.complete(ChatRequest(messages=europe, max_tokens=4))
    assert not plain.text.startswith(prefix)


def test_top_logprobs_of_first_tokens(small_backend):
    [result] = small_backend.complete(ChatRequest(messages=QUESTION, max_tokens=4, top_logprobs=5))
    assert 1 <= len(result.top_logprobs) <= 4
    first = result.top_logprobs[0]
    assert 1 <= len(first) <= 5 and all(lp <= 0 for lp in first.values())
    assert list(first.values()) == sorted(first.values(), reverse=True)


def test_teacher_forced_scores_prefer_the_right_answer(default_backend):
    right = default_backend.score_tokens(QUESTION, "Paris", without_prompt=True)
    wrong = default_backend.score_tokens(QUESTION, "Banana")
    assert right.n_tokens >= 1
    assert right.mean_logprob_with_prompt > wrong.mean_logprob_with_prompt
    # the prompt helps the right answer a lot: IFD-style ratio well below 1
    assert right.mean_logprob_with_prompt > right.mean_logprob_without_prompt
    assert wrong.mean_logprob_without_prompt is None  # IFD's second pass only where asked for


def test_continuations_share_the_prompt_and_match_scoring_one_at_a_time(default_backend):
    answers = ["Paris", "Banana", "The capital of France is Paris.", ""]
    together = default_backend.continuation_logprobs(QUESTION, answers)
    assert [len(t) for t in together[:3]] == [
        len(default_backend._engine.call(default_backend._engine.text_tokens, a)) for a in answers[:3]
    ] and together[3] == []
    for answer, logprobs in zip(answers[:3], together):
        alone = default_backend.score_tokens(QUESTION, answer)
        assert sum(logprobs) / len(logprobs) == pytest.approx(alone.mean_logprob_with_prompt, abs=0.05)
    assert sum(together[0]) / len(together[0]) > sum(together[1]) / len(together[1])


def test_a_label_set_scored_together_matches_each_label_alone(default_backend):
    labels = [
        '{"intent": "refund_request", "urgency": "low"}',
        '{"intent": "refund_request", "urgency": "high"}',
        '{"intent": "order_status", "urgency": "low"}',
        '{"intent": "refund_request"}',
    ]
    question = messages_of([("user", "Classify: 'I want my money back, now!' Reply with JSON.")])
    together = default_backend.continuation_logprobs(question, labels)
    for label, logprobs in zip(labels, together):
        [alone] = default_backend.continuation_logprobs(question, [label])
        assert len(logprobs) == len(alone)
        # batch composition moves a token's log-probability by a few hundredths on this CPU build
        assert sum(logprobs) / len(logprobs) == pytest.approx(sum(alone) / len(alone), abs=0.05)


def test_default_model_answers_correctly(default_backend):
    [result] = default_backend.complete(ChatRequest(messages=QUESTION, max_tokens=8))
    assert "paris" in result.text.lower()


def test_model_is_loaded_once_per_process(small_backend):
    from curation.llm.embedded import EmbeddedBackend

    again = EmbeddedBackend(LLMConfig(model="smollm2-135m", n_ctx=1024))
    assert again._engine is small_backend._engine


def test_parallel_sequences_match_one_by_one_when_greedy(small_backend):
    request = ChatRequest(messages=QUESTION, max_tokens=10, n=3)
    small_backend.parallel = True
    together = [r.text for r in small_backend.complete(request)]
    small_backend.parallel = False
    try:
        apart = [r.text for r in small_backend.complete(request)]
    finally:
        small_backend.parallel = True
    assert together == apart and len(set(together)) == 1


def test_parallel_samples_leave_the_prefix_cache_clean(small_backend):
    greedy = ChatRequest(messages=QUESTION, max_tokens=12)
    [before] = small_backend.complete(greedy)
    sampled = small_backend.complete(
        ChatRequest(messages=QUESTION, max_tokens=12, temperature=1.0, n=5, top_logprobs=2)
    )
    assert len(sampled) == 5 and all(r.top_logprobs for r in sampled)
    # the next call reuses the cached prompt; stale cells of the sample sequences would change it
    [after] = small_backend.complete(greedy)
    assert after.text == before.text


def test_prompts_prefilled_together_match_each_one_alone(small_backend):
    """Prompts evaluated in one batch — sharing prefixes, one continuing another that is still
    waiting in the batch, one longer than a decode batch — get the next-token distribution
    each gets alone in an empty cache, within llama.cpp's rounding (batches of other sizes
    take other kernels: measured differences up to ~0.3 in a top log-probability; a token
    at a wrong position or a missing cell changes them wholesale)."""
    engine = small_backend._engine
    system = "Answer in one short sentence."
    long = " ".join(f"Fact {i}: water is wet." for i in range(90))
    turns = [
        [("user", "What is the capital of France?")],
        [("user", "What is the capital of Spain?")],
        [("user", "Name a colour.")],
        [("user", "What is the capital of France?"), ("assistant", "Paris."), ("user", "And of Italy?")],
        [("user", f"{long} Is water wet?")],
    ]
    prompts = [engine.call(engine.chat_tokens, messages_of([("system", system), *t])) for t in turns]
    assert len(prompts[-1]) > engine.llm.n_batch

    def alone(prompt):
        engine.call(engine.clear)
        return engine.call(engine._prefill, [prompt], [[]])[0][1]

    expected = [alone(p) for p in prompts]
    engine.call(engine.clear)
    got = [first for _, first in engine.call(engine._prefill, prompts, [[] for _ in prompts])]
    engine.call(engine.clear)
    for want, have in zip(expected, got):
        top = np.argsort(-want)[:5]
        assert np.abs(have[top] - want[top]).max() < 0.5


def test_a_repeated_system_prompt_is_evaluated_once(small_backend):
    engine = small_backend._engine
    system = " ".join(f"Rule {i}: answer briefly and politely." for i in range(40))

    def ask(question: str) -> int:
        before = engine.evaluated
        small_backend.complete(
            ChatRequest(messages=messages_of([("system", system), ("user", question)]), max_tokens=2)
        )
        return engine.evaluated - before

    first = ask("What is the capital of France?")
    ask("Name a colour.")  # another kind of call in between keeps its own cached prompt
    second = ask("What is the capital of Spain?")
    assert first > 300 and second < 30


def test_a_full_kv_cache_drops_old_prompts_instead_of_failing(small_backend, capfd):
    engine = small_backend._engine
    assert engine.llm.n_ctx() == KV_CONTEXTS * 1024
    long = " ".join(f"Fact {i}: water is wet." for i in range(90))
    for i in range(8):  # 8 long distinct prompts: more than the KV cache holds at once
        [result] = small_backend.complete(ChatRequest(messages=messages_of([("user", f"{i} {long}")]), max_tokens=2))
        assert result.completion_tokens >= 1
    greedy = ChatRequest(messages=QUESTION, max_tokens=8)
    assert small_backend.complete(greedy)[0].text == small_backend.complete(greedy)[0].text
    assert len(long) * 10 // 4 > engine.llm.n_ctx()  # (about 4 characters a token: it did overflow)
    assert "failed to find a memory slot" not in capfd.readouterr().err  # expected: not shown as an error


def test_llama_cpp_log_lines_other_than_a_full_cache_still_reach_the_terminal(small_backend, capfd):
    from curation.llm.llama_native import _LOG_HOOK

    [hook] = _LOG_HOOK
    hook(3, b"decode: failed to find a memory slot for batch of size 512\n", None)
    hook(3, b"llama_model_load: error loading model\n", None)
    assert capfd.readouterr().err == "llama_model_load: error loading model\n"


def test_long_prompts_asked_together_are_decoded_in_groups_that_fit_the_kv_cache(small_backend):
    # three distinct prompts of ~700 tokens with 3 samples each: together more than the KV
    # cache's 2,048 cells; before the packing counted cells, every one failed ("KV cache is full")
    facts = " ".join(f"Fact {i}: the river is long." for i in range(80))
    requests = [
        ChatRequest(messages=messages_of([("user", f"Topic {t}. {facts}")]), max_tokens=3, temperature=1.0, n=3)
        for t in range(3)
    ]
    outcomes = small_backend.complete_batch(requests)
    assert all(isinstance(o, list) and len(o) == 3 for o in outcomes), outcomes
    assert sum(o[0].prompt_tokens for o in outcomes) > small_backend._engine.llm.n_ctx()


def test_jobs_are_packed_by_sequences_and_by_the_kv_cells_their_prompts_and_samples_need():
    rng = [np.random.default_rng(0)]

    def job(prompt, samples=1, max_tokens=10):
        return Job(list(prompt), rng * samples, 1.0, max_tokens, (), 0)

    shared = range(100)
    # a prefix shared with an earlier prompt of the group is counted once: 100 + 10 + 5 + 10
    assert _pack([job(shared), job([*shared, 7, 8, 9, 10, 11])], sequences=8, cells=130, longest=1000) == [[0, 1]]
    assert _pack([job(range(100)), job(range(200, 300))], sequences=8, cells=130, longest=1000) == [[0], [1]]
    assert _pack([job([1], samples=5), job([2], samples=4)], sequences=8, cells=1000, longest=1000) == [[0], [1]]
    # generation counts up to the sequence's room; a job over the cells stands alone
    assert _pack([job(range(95), max_tokens=50), job([1])], sequences=8, cells=111, longest=100) == [[0, 1]]
    assert _pack([job(range(500)), job([1]), job([2])], sequences=8, cells=100, longest=1000) == [[0], [1, 2]]


def test_calls_from_several_threads_at_once_are_served_one_at_a_time(small_backend):
    from concurrent.futures import ThreadPoolExecutor

    requests = [ChatRequest(messages=messages_of([("user", f"Say the number {i}.")]), max_tokens=6) for i in range(4)]
    alone = [small_backend.complete(r)[0].text for r in requests]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda r: small_backend.complete(r)[0].text, requests * 2))
    assert together == alone * 2

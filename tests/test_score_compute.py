"""The score stage's compute step, pure: the contrast's rival, the likelihood pass, the samples' opening."""

from __future__ import annotations

from curation import prompts
from curation.config import Config
from curation.llm.base import ChatResult, TokenScores
from tests.test_score import config, example, replies


# -- the contrast signal -------------------------------------------------------------------
class Likelihoods:
    """Stands in for the client: log-probabilities of candidate texts, and what was asked."""

    def __init__(self, logprob: dict[str, float]):
        self.logprob, self.asked = logprob, []

    def continuation_logprobs(self, messages, responses):
        self.asked.append(list(responses))
        return [[self.logprob.get(r, -5.0)] for r in responses]


def test_contrast_comes_from_a_constrained_answer_space_only():
    from curation.score_compute import _rival
    from curation.score_parts import dataset_view

    spans = [
        example(f"Passage: the ship brought back red seaweed {i}. What did it bring?", "red seaweed", f"e{i}")
        for i in range(4)
    ] + [example("Passage: the ship brought back red seaweed. What did it bring?", "ship")]
    tokens = TokenScores(-3.0, -4.0, 2)
    client = Likelihoods({"red seaweed": -0.1})
    rival = _rival(
        spans[-1],
        replies("answer: red seaweed", "answer: red seaweed"),
        tokens,
        client,
        view=dataset_view(spans),
        config=Config(),
    )
    assert client.asked and rival.candidates[0].text == "red seaweed" and rival.candidates[0].source == "extractive"
    assert rival.margin > 0
    open_set = [example(f"Say something {i}", f"thing {i}", f"o{i}") for i in range(5)]
    quiet = Likelihoods({})
    assert (
        _rival(
            open_set[0],
            replies("answer: other", "answer: other"),
            tokens,
            quiet,
            view=dataset_view(open_set),
            config=Config(),
        )
        is None
    )
    assert quiet.asked == []  # no call for an open answer space
    assert (
        _rival(spans[-1], replies("answer: red seaweed"), None, quiet, view=dataset_view(spans), config=Config())
        is None
    )  # a backend without likelihoods
    assert (
        _rival(
            spans[-1],
            replies("answer: red seaweed"),
            tokens,
            quiet,
            view=dataset_view(spans),
            config=config(**{"scoring.w_contrast": 0}),
        )
        is None
    )


def test_contrast_leaves_out_spans_of_another_kind_than_the_question_asks():
    from curation.score_compute import _rival
    from curation.score_parts import dataset_view

    spans = [
        example(
            f"Passage: a team of {i} spent 399 days mapping salt marshes. What did they map?", "salt marshes", f"e{i}"
        )
        for i in range(4)
    ]
    client = Likelihoods({"399 days": -0.1, "salt marshes": -3.0})
    rival = _rival(
        spans[0],
        replies("answer: 399 days", "answer: 399 days"),
        TokenScores(-3.0, -4.0, 2),
        client,
        view=dataset_view(spans),
        config=Config(),
    )
    assert client.asked and not any("399" in text for asked in client.asked for text in asked)
    assert rival is None or all("399" not in c.text for c in rival.candidates)


# -- the likelihood pass and the samples ---------------------------------------------------
def test_ifds_pass_without_the_prompt_runs_only_where_ifd_weighs_in():
    from curation.score_compute import ScoreTask, _token_scores

    class Client:
        def __init__(self):
            self.asked = []

        def score_tokens(self, messages, response, *, without_prompt=False):
            self.asked.append(without_prompt)
            return None

    batch = [ScoreTask(example("What is 2 + 2?", "4"), {})]
    default, weighted = Client(), Client()
    _token_scores(default, batch, Config())
    _token_scores(weighted, batch, config(**{"scoring.w_ifd": 1.0}))
    assert default.asked == [False] and weighted.asked == [True]


def test_samples_begin_with_the_label_or_the_json_opening_of_the_dataset():
    from curation.score_compute import ScoreTask, compute_sampled
    from curation.score_parts import dataset_view

    class Recorder:
        """Stands in for the client: disagreeing samples, so adaptive k asks for more."""

        def __init__(self):
            self.requests = []

        def score_tokens(self, messages, response, *, without_prompt=False):
            return None

        def complete_many(self, requests):
            self.requests += requests
            return [[ChatResult(text=f"answer: {r.sample_index + i}") for i in range(r.n)] for r in requests]

    tickets = [example(f"Ticket {i}", '{"intent": "refund_request"}', example_id=f"t{i}") for i in range(6)]
    plain = [example(f"Question {i}", f"Answer {i}", example_id=f"q{i}") for i in range(6)]
    for examples, prefix in ((tickets, '{"intent": "'), (plain, prompts.ANSWER_FIRST_PREFIX)):
        client = Recorder()
        [scored] = compute_sampled([ScoreTask(examples[0], {})], client, config=Config(), view=dataset_view(examples))
        samples = [r for r in client.requests if r.temperature > 0]
        assert not isinstance(scored, Exception) and len(samples) == 2  # the first three, then the rest
        assert {r.reply_prefix for r in samples} == {prefix}

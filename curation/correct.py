"""Stage 4, Auto-Correct: a contest between the recorded response and candidate corrections.

In: the flagged examples of a dataset with their scores. Out: one ``proposals`` row per
flagged example: the winning candidate (or why there is none), every candidate with its
confidence, the winner's margin over the original and the probability that it is better.

- Candidates (``correct.sources``, see :mod:`curation.alternatives`): the response's own content
  in a sound form (``repair``: chat-template tokens, HTML or a JSON wrapper taken away), the
  samples' majority answer, every member of a closed set, prompt spans for extractive answers, and a greedy
  few-shot answer from the main model with the most confident similar examples as
  demonstrations fitted to the context (:mod:`curation.demonstrations`), or from the user's
  fine-tuned endpoint when ``correct.candidate_model`` is set. A few-shot call too long for the context is retried
  with half the demonstrations, then none.
- A candidate that only rewords a response no form rule fired on (it keeps every word of
  it and adds some: ``Santiago.`` -> ``The capital of Chile is Santiago.``) is dropped: it
  would change the data without correcting it (:func:`curation.alternatives.rephrasings_dropped`).
  So is one that only repeats a run of the prompt's words where answers are not spans of it
  (``Chile`` for ``What is the capital of Chile?``; :func:`curation.alternatives.echoes_dropped`).
- Each candidate and the original get the same confidence (agreement with the samples,
  likelihood, whether the few-shot answer agrees, format, degenerate rules); the best
  candidate's margin over the original becomes a calibrated probability that it is better
  (:func:`curation.contest.p_better`).
- ``correct.judge``: ``contest`` uses that probability alone; ``llm`` the paper's judge alone
  (asked in both orders, :mod:`curation.judge`); ``both`` averages the two where the LLM judge
  is informative, i.e. did not pick the same position in both orders
  (:func:`curation.judge.same_position`).
  With either, a winner a rule checks (a ``repair`` or a ``completion``, :func:`rule_checked`)
  is right with at least its class's measured rate (:func:`curation.contest.p_right`).
- A winner is proposed at probability ≥ ``propose_at`` and applies itself at ≥ η (when
  ``correct.auto_apply``); otherwise the example stays flagged and waits for review.
- A proposal decided under another calibration or evidence version than today's is made again
  on the next run, unless the example has a review decision in force (:data:`DONE`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from curation import alternatives, contest, repair
from curation import confidence as cmath
from curation.config import Config
from curation.demonstrations import DEMO_POOL, candidate_request, demonstrations
from curation.engines import Engine, LocalEngine, Lookups, Work
from curation.errors import BudgetExceededError, ContextLengthError, LLMError, mostly_failed
from curation.fold import original_rules
from curation.injection import markers
from curation.judge import ask_judge, judge, same_position
from curation.llm.base import ChatRequest, ChatResult
from curation.llm.client import LLMClient
from curation.records import Example
from curation.score_parts import DatasetView, dataset_view, run_contest
from curation.store import DatasetInfo, Store, prompt_text

log = logging.getLogger(__name__)


@dataclass
class CorrectResult:
    proposed: int = 0
    unchanged: int = 0
    weaker: int = 0
    failed: int = 0
    auto_applied: int = 0
    checked: int = 0  # of those auto-applied, the ones a rule checked (a repair, a completion)
    skipped: int = 0
    redone: int = 0  # final proposals made again: decided under older rules, not yet reviewed
    stopped: str | None = None
    attempted: int = 0
    first_error: str | None = None
    shape: str = ""

    def warning(self) -> str | None:
        """A loud line when half or more of the attempted examples failed, else None."""
        return mostly_failed("Auto-Correct", self.failed, self.attempted, self.first_error, "flagged examples")


#: Proposal statuses that are final: a rerun does not correct those examples again, unless the
#: proposal was decided under other rules than today's (:func:`decision_rules`: an automatic
#: application then rested on a precision no longer measured) and the example has no review
#: decision in force (one that has keeps its proposal, which the decision refers to).
DONE = ("ok", "same", "weaker")


def decision_rules() -> str:
    """The calibration and evidence versions a proposal is decided under (stored with it)."""
    return f"{contest.CALIBRATION.version}; evidence {contest.EVIDENCE.version}"


def correct_dataset(
    store: Store,
    info: DatasetInfo,
    config: Config,
    *,
    candidates: LLMClient,
    judge_client: LLMClient,
    score_key: str,
    run_id: str,
    on_progress: Callable[[int, int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    engine: Engine | None = None,
) -> CorrectResult:
    """Run the contest for every flagged example that has no final proposal yet.

    Args:
        candidates: the client that writes few-shot candidates (the fine-tuned endpoint or the main model).
        judge_client: the main model's client: likelihoods and the LLM judge.
        engine: where the LLM work runs (default: this process); proposals are saved here.
    Returns:
        Counts; ``stopped`` is ``"cancelled"`` or ``"budget"`` when the run stopped early,
        :meth:`CorrectResult.warning` says when most examples failed.
    """
    flagged = set(store.flagged_ids(info.dataset_id))
    existing = store.proposals(info.dataset_id)
    final = {i for i in flagged if existing.get(i, {}).get("status") in DONE}
    outdated = {i for i in final if existing[i].get("calibration") != decision_rules()}
    redo = outdated - set(store.current_decisions(info.dataset_id)) if outdated else set()
    todo_ids = (flagged - final) | redo
    result = CorrectResult(skipped=len(flagged) - len(todo_ids), redone=len(redo))
    rows = {r["example_id"]: r for r in store.scores(info.dataset_id, score_key) if r["status"] == "ok"}
    everything = list(store.iter_examples(info.dataset_id))
    view = dataset_view(everything, rules=False)
    result.shape = view.shape.note
    todo = [e for e in everything if e.example_id in todo_ids]
    pool = sorted(
        (
            e
            for e in everything
            if e.example_id not in flagged and rows.get(e.example_id, {}).get("confidence") is not None
        ),
        key=lambda e: -rows[e.example_id]["confidence"],
    )[:DEMO_POOL]
    engine = engine or LocalEngine()
    held = original_rules(list(rows.values()))
    size = engine.batch_size(judge_client, 2, len(todo))  # a candidate, then the judge's two orders
    tasks = [CorrectTask(e, rows.get(e.example_id), held.get(e.example_id, 1.0)) for e in todo]
    batches = [tasks[start : start + size] for start in range(0, len(tasks), size)]
    work = Work(
        compute=compute_corrections,
        context={"pool": pool, "config": config, "view": view},
        lookups=lambda batch: Lookups(_first_requests(batch, pool, config), []),
    )
    clients = (judge_client,) if candidates is judge_client else (judge_client, candidates)
    if on_progress is not None:
        on_progress(0, len(todo), 0)  # the phase has started
    if should_stop is not None and should_stop():
        result.stopped = "cancelled"
        return result
    try:
        for batch, outcomes in engine.run(work, batches, clients=clients, cache=store):
            for task, (draft, rival, verdict) in zip(batch, outcomes):
                _record(store, info, task.example, draft, rival, verdict, run_id=run_id, config=config, result=result)
                result.attempted += 1
                if on_progress is not None:
                    on_progress(result.attempted, len(todo), result.failed)
            if result.attempted < len(todo) and should_stop is not None and should_stop():
                result.stopped = "cancelled"
                break
    except BudgetExceededError:
        result.stopped = "budget"
    return result


@dataclass(frozen=True)
class CorrectTask:
    """One flagged example with its score row (the samples' answers, its likelihood) and the
    product of the rules only it is weighed by (:func:`curation.fold.original_rules`)."""

    example: Example
    row: dict | None
    rules: float = 1.0


def compute_corrections(
    batch: list[CorrectTask],
    judge_client: LLMClient,
    candidates: LLMClient | None = None,
    *,
    pool: list[Example],
    config: Config,
    view: DatasetView,
) -> list[tuple[list[ChatResult] | LLMError | None, contest.Contest, tuple | LLMError | None]]:
    """The contest of each task (nothing is saved here): per task, its few-shot draft (from
    ``candidates``, default the judge's client, with demonstrations from ``pool``), the contest
    and the LLM judge's replies.

    Raises:
        BudgetExceededError: the budget ran out; no outcome of the batch is kept.
    """
    examples = [t.example for t in batch]
    drafted = _draft(candidates or judge_client, examples, pool, config)
    contests = [_contest(t, d, judge_client, view, config) for t, d in zip(batch, drafted)]
    return list(zip(drafted, contests, ask_judge(judge_client, examples, contests, config)))


def _first_requests(batch: list[CorrectTask], pool: list[Example], config: Config) -> list[ChatRequest]:
    """The few-shot calls of ``batch`` that an earlier run may have paid for (the judge's
    depend on the contest: a worker asks them again)."""
    if "few_shot" not in config.correct.sources:
        return []
    demos = demonstrations([t.example for t in batch], pool, config)
    return [candidate_request(t.example, demos[t.example.example_id], config) for t in batch]


def _draft(
    client: LLMClient, batch: list[Example], pool: list[Example], config: Config
) -> list[list[ChatResult] | LLMError | None]:
    """Per example, the few-shot (or endpoint) candidate, or None when that source is off. A
    call too long for the context is retried with half the demonstrations, then none."""
    if "few_shot" not in config.correct.sources:
        return [None] * len(batch)
    demos = demonstrations(batch, pool, config)
    outcomes: dict[str, list[ChatResult] | LLMError] = {}
    pending = batch
    while pending:
        got = client.complete_many([candidate_request(e, demos[e.example_id], config) for e in pending])
        if any(isinstance(o, BudgetExceededError) for o in got):
            raise BudgetExceededError("budget reached")
        retry = []
        for example, outcome in zip(pending, got):
            shown = demos[example.example_id]
            if isinstance(outcome, ContextLengthError) and shown:
                demos[example.example_id] = shown[: len(shown) // 2]
                retry.append(example)
            else:
                outcomes[example.example_id] = outcome
        pending = retry
    return [outcomes[e.example_id] for e in batch]


def _contest(
    task: CorrectTask,
    draft: list[ChatResult] | LLMError | None,
    client: LLMClient,
    view: DatasetView,
    config: Config,
) -> contest.Contest:
    """The recorded response against every candidate, with likelihoods from ``client``."""
    c, example, row = config.correct, task.example, task.row or {}
    answers = [s["answer"] for s in row.get("explanation", {}).get("samples", [])]
    prompt = prompt_text(example.prompt)
    gated, fired = c.judge != "llm", row.get("fired", [])  # the paper's judge takes every candidate as it comes
    fixed = (
        repair.repairs(example.response, reasoning=view.shape.reasoning, prompt=prompt)
        if gated and "repair" in c.sources
        else []
    )
    found = [(t, "repair") for t in fixed] + [
        (t, source)
        for t, source in alternatives.alternatives(example.response, answers, prompt, view.shape, sources=c.sources)
        if not any(cmath.answers_match(t, f) for f in fixed)
    ]
    text = draft[0].text.strip() if isinstance(draft, list) and draft else ""
    # A draft that gives a repair's answer in other words votes for the repair, which keeps
    # the author's words ("Cairo is the capital city of Egypt." for "<p>Cairo is the capital
    # of Egypt.</p>"), and is not offered itself.
    kin = next((t for t in fixed if text and cmath.same_answer(t, text, prompt)), None)
    # A broken response's answer in a sound form is a correction ("## 41" -> "#### 41").
    broken = gated and alternatives.form_broken(fired)
    repeats = text == example.response.strip() if broken else cmath.answers_match(text, example.response)
    standalone = bool(text) and kin is None and not repeats and not any(cmath.answers_match(text, t) for t, _ in found)
    if standalone:
        found.append((text, "few_shot" if c.candidate_llm(config.llm) is None else "endpoint"))
    # Against a repair (the author's answer in a sound form), a draft with another answer is
    # the model's view of the content: weighed by the samples and the likelihood like every
    # candidate, it does not also vote for itself.
    vote = kin or (None if standalone and fixed else text) or None
    if gated:
        found = alternatives.rephrasings_dropped(found, example.response, prompt, fired)
        found = alternatives.echoes_dropped(found, prompt, view.shape)
        found = alternatives.mistyped_dropped(found, example.response, prompt)
    logprobs = client.continuation_logprobs(example.prompt, [t for t, _ in found]) if found else []
    likelihood = row.get("signals", {}).get("likelihood")  # exp(mean log-prob), stored by scoring
    original = math.log(likelihood) if likelihood else None
    return run_contest(
        example, answers, original, found, logprobs, view=view, config=config, draft=vote,
        original_rules=task.rules if gated else 1.0,
    )  # fmt: skip


def decide(rival: contest.Contest, verdict: tuple | None, config: Config) -> tuple[float | None, list[dict]]:
    """The probability that the best candidate is better than the original, and the LLM
    judge's verdicts where it was asked (pure): the calibrated contest probability, the
    judge's confidence (``llm``), or their mean where the judge did not follow a position;
    raised to the winner's evidence rate where a rule checks it (not with ``llm``)."""
    if not rival.candidates:
        return None, []
    if verdict is None:
        return _checked(rival, rival.p_better), []
    judged, verdicts = judge(*verdict)
    if config.correct.judge == "llm":
        return judged, verdicts
    informative = same_position(verdicts) is None and all(v["parsed"] for v in verdicts)
    return _checked(rival, (rival.p_better + judged) / 2 if informative else rival.p_better), verdicts


def _checked(rival: contest.Contest, p: float) -> float:
    return contest.p_right(p, rule_checked(rival.candidates[0], rival.original, rival.candidates))


def rule_checked(
    candidate: contest.Scored, original: contest.Scored, rivals: Sequence[contest.Scored] = ()
) -> str | None:
    """The evidence class of a winning candidate among ``rivals`` (:func:`curation.contest.winner_evidence`),
    none for one that carries an injection marker (:func:`curation.injection.markers`):
    words aimed at a grader never apply themselves."""
    return None if markers(candidate.text) else contest.winner_evidence(candidate, original, rivals)


def _candidate_json(candidate: contest.Scored, rival: contest.Contest) -> dict:
    """A candidate as stored: its confidence parts, its P(better) from its margin over the
    recorded content (raised where a rule checks it) and that check's name (``evidence``)."""
    kind = rule_checked(candidate, rival.original, rival.candidates)
    margin = contest.margin_over_recorded(candidate, rival.original, rival.candidates)
    p = contest.p_right(contest.p_better(margin), kind)
    return {**candidate.to_json(), "p_better": round(p, 4), "evidence": kind}


def _record(
    store: Store,
    info: DatasetInfo,
    example: Example,
    draft: list[ChatResult] | LLMError | None,
    rival: contest.Contest,
    verdict: tuple | LLMError | None,
    *,
    run_id: str,
    config: Config,
    result: CorrectResult,
) -> None:
    errors = [o for o in (draft, verdict) if isinstance(o, LLMError)]
    if errors:
        result.failed += 1
        result.first_error = result.first_error or str(errors[0])
    common = {
        "dataset_id": info.dataset_id,
        "example_id": example.example_id,
        "run_id": run_id,
        "error": str(errors[0]) if errors else None,
        "calibration": decision_rules(),
        "candidates": [rival.original.to_json()] + [_candidate_json(c, rival) for c in rival.candidates],
    }
    if errors and (not rival.candidates or isinstance(verdict, LLMError)):
        store.save_proposal(
            **common, candidate="", judge_confidence=None, verdicts=[], auto_applied=False, status="failed"
        )
        return
    if not rival.candidates:  # every candidate repeats the original: nothing to propose
        store.save_proposal(
            **common, candidate="", judge_confidence=None, verdicts=[], auto_applied=False, status="same"
        )
        result.unchanged += 1
        return
    p, verdicts = decide(rival, verdict if not isinstance(verdict, LLMError) else None, config)
    best = rival.candidates[0]
    gated = config.correct.judge != "llm"  # the paper's judge alone proposes every candidate
    status = "weaker" if gated and p < config.correct.propose_at else "ok"
    applied = status == "ok" and config.correct.auto_apply and p >= config.correct.eta
    store.save_proposal(
        **common,
        candidate=best.text,
        judge_confidence=p,
        verdicts=verdicts,
        auto_applied=applied,
        status=status,
        source=best.source,
        margin=rival.margin,
    )
    if status == "ok":
        result.proposed += 1
        result.auto_applied += applied
        result.checked += applied and common["candidates"][1]["evidence"] is not None
    else:
        result.weaker += 1

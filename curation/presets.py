"""Named configurations with measured trade-offs (see ``benchmarks/detection.py``).

- ``default``: what ``Config()`` gives — the cascade (cheap signals for every example,
  BSDetector's samples and reflections for those below the band) with BSDetector's k, α, β,
  the speed techniques that keep detection quality on a CPU model (answers first, adaptive k,
  letter-first reflections read from log-probabilities) and the cheap signals, weighted as measured.
- ``faithful``: BSDetector and CLEAR as published, for every example: reasoning before the answer, both
  reflection questions with explanations and the paper's fixed choices, confidence =
  β·O + (1−β)·S alone, γ = the median; one few-shot candidate judged by the two-order LLM
  judge alone.
- ``fast``: no sampling: for every example one reflection, read from its letter alone (no
  explanation), likelihood and rules (two calls per example).
"""

from __future__ import annotations

from curation.bsdetector import LETTER_ONLY_TOKENS
from curation.config import Config

PRESETS: dict[str, Config] = {
    "default": Config(),
    "faithful": Config().with_overrides(
        {
            "scoring.tiers": "full",
            "scoring.sample_style": "explanation_first",
            "scoring.early_stop": False,
            "scoring.letter_first": False,
            "scoring.reflection_order": "fixed",
            "scoring.reflection_max_tokens": 192,
            "scoring.max_tokens": 256,
            "scoring.w_bsdetector": 1.0,
            "scoring.w_likelihood": 0.0,
            "scoring.w_min_k": 0.0,
            "scoring.w_ifd": 0.0,
            "scoring.w_format": 0.0,
            "scoring.w_degenerate": 0.0,
            "scoring.w_injection": 0.0,
            "scoring.w_ending": 0.0,
            "scoring.w_arithmetic": 0.0,
            "scoring.w_contrast": 0.0,
            "correct.sources": ("few_shot",),
            "correct.judge": "llm",
            "correct.eta": 0.8,
            "filter.gamma_mode": "quantile",
            "filter.gamma": 0.5,
        }
    ),
    "fast": Config().with_overrides(
        {
            "scoring.tiers": "full",
            "scoring.k": 0,
            "scoring.reflection_prompts": 1,
            "scoring.reflection_max_tokens": LETTER_ONLY_TOKENS,
        }
    ),
}

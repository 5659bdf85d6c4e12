"""The words people read for signals and settings: a label and a one-line meaning per signal,
and per setting shown as a symbol (γ, η, k, ...) the words that say what it does and a
tooltip. The one list of such words; the app and the explanations read them from here.
"""

from __future__ import annotations

#: Every signal a score shows people (the weighted ones and BSDetector's two parts): a label
#: and a one-line meaning. All in [0, 1], higher = looks fine. The one list of such words.
SIGNAL_GLOSSARY = {
    "bsdetector": ("Model confidence", "sample agreement and self-reflection combined (BSDetector)"),
    "consistency": ("Sample agreement", "how far fresh answers sampled from the model agree with the response"),
    "reflection": ("Self-reflection", "the model's own verdict on whether the response is correct"),
    "likelihood": ("Likelihood", "how probable the model finds the response, given its prompt"),
    "min_k": ("Weakest tokens", "likelihood of the response's least likely 20 % of tokens"),
    "ifd": ("Prompt fit", "how much the prompt helps predict the response (low = prompt and response do not match)"),
    "format": ("Format", "follows the format most of the dataset's responses share"),
    "degenerate": ("Broken text", "checks for empty text, refusals, an echo of the prompt, truncation or repetition"),
    "injection": ("Injected instructions", "checks for chat-template tokens, role markers or orders aimed at a grader"),
    "ending": (
        "Ends naturally",
        "probability that the response ends where it does; far below the dataset's usual ending = cut off",
    ),
    "arithmetic": ("Arithmetic", "checks every equation the response states (12 + 9 = 22 is wrong whatever the task)"),
    "contrast": ("No better alternative", "1 − P(an alternative answer from the allowed set is better)"),
}
#: The settings people see as symbols: the symbol, the words that say what it does, and a
#: longer help text for a tooltip.
SETTING_GLOSSARY = {
    "k": (
        "k",
        "samples per example",
        "How many fresh answers the model writes per example; their agreement with the recorded response "
        "is the sample agreement. 0 skips sampling. Sampling stops early when the first answers settle it, "
        "and goes on up to k_max when they split.",
    ),
    "band": (
        "band",
        "sample below this cheap confidence",
        "The cascade scores every example with cheap signals first (likelihood, ending, rules); only those "
        "whose cheap confidence is below the band get the model's samples and self-reflection. Everything "
        "that may be flagged is below it.",
    ),
    "alpha": (
        "α",
        "similarity vs. exact match",
        "A sample agrees with the response by α × word similarity + (1 − α) × exact match (0.8 in the paper).",
    ),
    "beta": (
        "β",
        "sample agreement vs. self-reflection",
        "Model confidence = β × sample agreement + (1 − β) × self-reflection (0.7 in the paper).",
    ),
    "gamma": (
        "γ",
        "flag threshold: flag examples below this confidence",
        "Auto-Filter flags an example whose confidence is below γ (absolute), or the lowest γ share of "
        "the dataset (quantile).",
    ),
    "eta": (
        "η",
        "auto-apply threshold: apply corrections judged at least this sure",
        "A proposed correction applies itself when the probability that it is better reaches η; below, "
        "it waits for a reviewer.",
    ),
}


def signal_label(name: str) -> str:
    """A signal's label for people (``ifd`` -> ``Prompt fit``); an unknown name is shown as it is."""
    return SIGNAL_GLOSSARY[name][0] if name in SIGNAL_GLOSSARY else name


def signal_meaning(name: str) -> str:
    """A signal's one-line meaning, or "" for an unknown name."""
    return SIGNAL_GLOSSARY[name][1] if name in SIGNAL_GLOSSARY else ""


def term(setting: str, *, short: bool = False) -> str:
    """A setting's symbol with its words: ``γ (flag threshold: flag examples below ...)``; ``short``
    stops the words at the first colon (``γ (flag threshold)``)."""
    symbol, words, _ = SETTING_GLOSSARY[setting]
    return f"{symbol} ({words.split(':')[0] if short else words})"


def setting_help(setting: str) -> str:
    """A setting's longer help text, for a tooltip."""
    return SETTING_GLOSSARY[setting][2]

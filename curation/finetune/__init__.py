"""The fine-tuning hand-off: the curated export checked against a provider's rules, then trained on.

:mod:`curation.finetune.rules` checks a file and estimates its cost (pure, nothing is sent);
:mod:`curation.finetune.jobs` uploads it, starts and follows the job and records it in the
store. When the job has produced a model, :func:`correct_command` gives the ``curate correct
--candidate-model`` line that closes the CLEAR loop.
"""

from curation.finetune.jobs import (
    DEFAULT_BASE_MODEL,
    OPENAI_URL,
    Job,
    correct_command,
    endpoint,
    export_chat,
    start,
    status,
)
from curation.finetune.rules import MIN_EXAMPLES, OPENAI_BASE_MODELS, PROVIDERS, Report, check_record, validate

__all__ = [
    "validate",
    "check_record",
    "start",
    "status",
    "endpoint",
    "export_chat",
    "correct_command",
    "Report",
    "Job",
    "PROVIDERS",
    "DEFAULT_BASE_MODEL",
    "MIN_EXAMPLES",
    "OPENAI_BASE_MODELS",
    "OPENAI_URL",
]

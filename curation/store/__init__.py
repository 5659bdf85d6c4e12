"""The project store: the only code that talks to DuckDB (schema, migrations, named SQL, typed queries).

``Store`` is the connection and its typed methods; :class:`QueueFilter` says which examples a
review queue shows; :mod:`curation.store.values` is how timestamps and prompts are stored;
:class:`Staging` holds an import's checked records in DuckDB until they are stored.
"""

from curation.store.core import DEFAULT_STORE, Store
from curation.store.datasets import DatasetInfo, SourceFile
from curation.store.reviewing import STATUSES, QueueFilter
from curation.store.staging import StagedRecord, Staging, scratch_staging
from curation.store.values import now, prompt_from_json, prompt_text, prompt_to_json

__all__ = [
    "Store",
    "DatasetInfo",
    "SourceFile",
    "Staging",
    "StagedRecord",
    "scratch_staging",
    "DEFAULT_STORE",
    "QueueFilter",
    "STATUSES",
    "now",
    "prompt_to_json",
    "prompt_from_json",
    "prompt_text",
]

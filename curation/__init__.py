"""CLEAR Studio's library: find and fix bad examples in LLM fine-tuning datasets.

Stages, one module each: :mod:`~curation.ingest`, :mod:`~curation.score`,
:mod:`~curation.filter`, :mod:`~curation.correct`, :mod:`~curation.review` (with
:mod:`~curation.insights` for what reviews measure), :mod:`~curation.export`; the whole run is
:mod:`~curation.pipeline`; all state lives in :mod:`~curation.store`.
"""

__version__ = "0.1.0"

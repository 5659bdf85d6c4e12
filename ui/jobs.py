"""Pipeline runs in a background thread, one slot per (store, dataset), shared by all sessions.

The Run page starts a :class:`RunJob` and polls it; the slot lives in ``st.cache_resource``,
so a browser refresh (a new session) finds the job still running and re-attaches to it.
Cancelling sets an event that ``run_pipeline`` checks through ``should_stop``; the work done
so far is in the store, and starting the same configuration again resumes it. The job keeps
the latest report of each phase, so the page can show the phases behind and ahead.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import streamlit as st

from curation import pipeline
from curation.config import Config
from curation.errors import CurationError
from curation.phases import Progress
from curation.pipeline import RunSummary
from curation.store import Store

log = logging.getLogger(__name__)


@dataclass
class RunJob:
    """One pipeline run; ``progress``, ``summary`` and the errors are set by its thread."""

    dataset: str
    config: Config
    stages: tuple[str, ...]
    started: float = field(default_factory=time.time)
    stop: threading.Event = field(default_factory=threading.Event)
    progress: Progress | None = None  # the latest report
    phases: dict[str, Progress] = field(default_factory=dict)  # the latest report of each phase
    reported: float = 0.0  # time.monotonic() of the latest report: the time left counts down from it
    summary: RunSummary | None = None
    error: str | None = None  # a CurationError's message
    crash: BaseException | None = None  # anything else: a bug, shown with its traceback
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def cancel(self) -> None:
        self.stop.set()

    def wait(self, timeout: float | None = None) -> None:
        if self.thread is not None:
            self.thread.join(timeout)

    def _report(self, progress: Progress) -> None:
        self.phases[progress.stage] = progress
        self.reported = time.monotonic()
        self.progress = progress

    def _run(self, store: Store) -> None:
        try:
            self.summary = pipeline.run_pipeline(
                store,
                self.dataset,
                self.config,
                stages=self.stages,
                on_progress=self._report,
                should_stop=self.stop.is_set,
            )
        except CurationError as e:
            self.error = str(e)
        except Exception as e:  # noqa: BLE001 -- a thread cannot raise into the page; shown there
            log.exception("pipeline run on %r crashed", self.dataset)
            self.crash = e


@dataclass
class JobSlot:
    """The latest job of one dataset in one store."""

    job: RunJob | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


@st.cache_resource(show_spinner=False)
def job_slot(store_path: str, dataset: str) -> JobSlot:
    return JobSlot()


def start_job(store: Store, dataset: str, config: Config, *, stages: tuple[str, ...]) -> RunJob:
    """Start a run of ``dataset`` unless one is running; return the job in the slot."""
    slot = job_slot(store.path, dataset)
    with slot.lock:
        if slot.job is not None and slot.job.running:
            return slot.job
        job = RunJob(dataset=dataset, config=config, stages=stages)
        job.thread = threading.Thread(target=job._run, args=(store,), daemon=True, name=f"clear-run-{dataset}")
        slot.job = job
        job.thread.start()
    return job


def current_job(store: Store, dataset: str) -> RunJob | None:
    return job_slot(store.path, dataset).job

"""The embedded model's first use: a split packaged model is assembled from its packages and
checked, shown as its own ``assemble`` phase and counted in the estimate (a tiny fake split
model made of temporary files; no model is loaded)."""

from __future__ import annotations

import hashlib
import io

import pytest

from curation import phases, pipeline
from curation.config import Config, LLMConfig
from curation.estimate import estimate_preparation, estimate_run
from curation.ingest import import_file
from curation.llm import embedded, packaged
from curation.llm.packaged import ASSEMBLY_BYTES_PER_S, PackagedModel, needs_assembly, resolve_model_path
from curation.phases import Progress
from curation.progress import ProgressBar, postfix
from tests.support.scripted import ARITHMETIC, write_records

MIB = 1 << 20
PARTS = (b"a" * MIB, b"b" * MIB)  # read in one chunk each: one report a part
SIZE = 2 * MIB


@pytest.fixture
def split(tmp_path, monkeypatch):
    """A 2 MiB model split over two fake packages, assembled into ``tmp_path / "models"``."""
    for i, data in enumerate(PARTS):
        (tmp_path / f"pkg{i}").mkdir()
        (tmp_path / f"pkg{i}" / "part.bin").write_bytes(data)
    spec = PackagedModel(
        name="tiny-split",
        filename="tiny.gguf",
        parts=(("pkg0", "part.bin"), ("pkg1", "part.bin")),
        sha256=hashlib.sha256(b"".join(PARTS)).hexdigest(),
        size=SIZE,
        licence="",
        origin="",
    )
    monkeypatch.setitem(packaged.PACKAGED_MODELS, spec.name, spec)
    monkeypatch.setattr(packaged, "_package_dir", lambda package: tmp_path / package)
    return LLMConfig(model=spec.name, model_dir=str(tmp_path / "models"))


# -- needs_assembly -----------------------------------------------------------------------------
def test_a_split_model_needs_assembly_until_it_is_assembled(split, tmp_path):
    assert needs_assembly(split.model, model_dir=split.model_dir) == SIZE
    path = resolve_model_path(split.model, model_dir=split.model_dir)
    assert path.read_bytes() == b"".join(PARTS)
    assert needs_assembly(split.model, model_dir=split.model_dir) == 0
    assert needs_assembly(split.model, model_dir=tmp_path / "elsewhere") == SIZE
    path.write_bytes(b"cut short")  # a damaged leftover is assembled again
    assert needs_assembly(split.model, model_dir=split.model_dir) == SIZE


def test_nothing_else_needs_assembly(tmp_path):
    gguf = tmp_path / "own.gguf"
    gguf.write_bytes(b"GGUF")
    assert needs_assembly("smollm2-135m", model_dir=tmp_path) == 0  # one file, used in place
    assert needs_assembly(str(gguf)) == 0
    assert needs_assembly("no-such-model") == 0  # resolve_model_path says what is wrong


# -- the phases ---------------------------------------------------------------------------------
@pytest.fixture
def no_engine(monkeypatch):
    monkeypatch.setattr(embedded, "_engine_for", lambda config: None)
    monkeypatch.setattr(pipeline, "make_client", lambda llm, cache: None)


def test_embedded_load_reports_assembly_apart_from_loading(split, no_engine):
    assembled, loaded = [], []
    embedded.load(split, on_assemble=lambda *a: assembled.append(a), on_progress=lambda *a: loaded.append(a))
    assert assembled == [(0, SIZE), (MIB, SIZE), (SIZE, SIZE)]
    assert loaded == [(0, SIZE), (SIZE, SIZE)]

    assembled.clear()
    embedded.load(split, on_assemble=lambda *a: assembled.append(a))
    assert assembled == []  # the second use finds it assembled


def test_a_first_use_is_its_own_phase_before_loading(split, no_engine, store):
    events: list[Progress] = []
    pipeline._load_client(store, split, pipeline._Reporter(events.append, dict))
    assert [(e.stage, e.done, e.total, e.unit) for e in events] == [
        ("assemble", 0, 2, "MB"),
        ("assemble", 1, 2, "MB"),
        ("assemble", 2, 2, "MB"),
        ("load", 0, 2, "MB"),
        ("load", 2, 2, "MB"),
    ]
    # timed from the start (the microseconds between the phase's start and its first report
    # weigh in the rate: on a loaded machine they moved it past approx's default 1e-6)
    assert events[0].eta_s == pytest.approx(2 / (ASSEMBLY_BYTES_PER_S / MIB), rel=1e-3)
    assert (
        events[2]
        .describe()
        .startswith(
            "preparing the model (first use: assembling its weights from the packages and checking them): 2 of 2 MB"
        )
    )

    events.clear()
    pipeline._load_client(store, split, pipeline._Reporter(events.append, dict))
    assert [e.stage for e in events] == ["load", "load"]


def test_preparing_comes_first_then_loading():
    assert list(phases.PHASES)[:2] == ["assemble", "load"]


# -- the estimate -------------------------------------------------------------------------------
def test_the_estimate_counts_the_first_use_only_while_it_is_ahead(split, store, tmp_path):
    path = tmp_path / "arith.jsonl"
    write_records(path, ARITHMETIC)
    import_file(store, path, name="arith")
    config = Config(llm=split)
    first = estimate_run(store, "arith", config)
    assert first.prepare_seconds == pytest.approx(SIZE / ASSEMBLY_BYTES_PER_S)
    assert first.basis.startswith("preparing the model 2 MB at ~200 MB/s (first use only); scoring ")

    resolve_model_path(split.model, model_dir=split.model_dir)
    later = estimate_run(store, "arith", config)
    assert later.prepare_seconds == 0 and "preparing" not in later.basis
    assert first.seconds == pytest.approx(later.seconds + first.prepare_seconds)


def test_a_candidate_model_counts_too_and_an_endpoint_never(split):
    candidate = Config(llm=LLMConfig(model="smollm2-135m", model_dir=split.model_dir)).with_overrides(
        {"correct.candidate_model": split.model}
    )
    assert estimate_preparation(candidate)[0] == pytest.approx(SIZE / ASSEMBLY_BYTES_PER_S)
    both = Config(llm=split).with_overrides({"correct.candidate_model": split.model})
    assert estimate_preparation(both)[0] == pytest.approx(SIZE / ASSEMBLY_BYTES_PER_S)  # the same file, once
    endpoint = Config(llm=LLMConfig(backend="openai", model=split.model, base_url="http://localhost:1"))
    assert estimate_preparation(endpoint) == (0.0, "")


def test_the_terminal_shows_the_preparation_as_its_own_bar():
    out = io.StringIO()
    preparing = Progress("assemble", 200, 468, 0, {}, rate=200.0, eta_s=1.3, elapsed_s=1.0, unit="MB")
    assert postfix(preparing) == "200.0 MB/s, about 1 s left"  # no calls to count yet
    with ProgressBar(stream=out) as bar:
        bar.update(preparing)
        bar.update(Progress("load", 0, 468, 0, {}, unit="MB"))
    text = out.getvalue()
    assert "preparing the model (first use: assembling its weights" in text and "loading the model:" in text

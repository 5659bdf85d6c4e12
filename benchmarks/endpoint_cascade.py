"""The scoring cascade on an OpenAI-compatible endpoint, with and without the endpoint's likelihoods.

The embedded model stands behind the loopback server and answers as vLLM does
(:mod:`benchmarks.support.embedded_endpoint`): its replies, its letters' log-probabilities and,
when asked, the log-probabilities of the request's own tokens (``prompt_logprobs``). The
library reaches it through the real ``openai`` package, as it would reach a vLLM server. For
the first N examples of each sample dataset, score → filter under four variants, each on a
store of its own (no call shared):

* ``full``: every example sampled (``scoring.tiers=full``), likelihoods from the endpoint;
* ``cascade``: the default, likelihoods from the endpoint (vLLM);
* ``full, no likelihoods`` and ``cascade, no likelihoods``: ``llm.prompt_logprobs=off``, an
  endpoint like OpenAI's own: the cheap tier asks one self-reflection question instead.

Per dataset and variant: requests per example (HTTP calls, each sample request asking for its
``n`` samples at once), the share of examples the sampled tier took, AUROC of the final
confidence against the planted errors, precision and recall at γ; overall, each cascade's
requests as a share of its full variant's. Seconds are the loopback server's (one request at
a time through one CPU model), not a real server's.

    python -m benchmarks.endpoint_cascade --per-dataset 40

Prints a table and writes ``benchmarks/results/endpoint_cascade.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from benchmarks.detection import DATASETS, _labels, _subset, evaluate  # noqa: E402
from benchmarks.support.embedded_endpoint import EmbeddedEndpoint  # noqa: E402
from benchmarks.support.fake_openai import FakeOpenAIServer  # noqa: E402
from curation.config import Config  # noqa: E402
from curation.llm.embedded import EmbeddedBackend  # noqa: E402
from curation.pipeline import run_pipeline  # noqa: E402
from curation.store import Store  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "endpoint_cascade.json"
VARIANTS = {
    "full": {"scoring.tiers": "full", "llm.prompt_logprobs": "on"},
    "cascade": {"llm.prompt_logprobs": "on"},
    "full, no likelihoods": {"scoring.tiers": "full", "llm.prompt_logprobs": "off"},
    "cascade, no likelihoods": {"llm.prompt_logprobs": "off"},
}
#: Each cascade and the full variant its requests are compared with.
BASELINE = {"cascade": "full", "cascade, no likelihoods": "full, no likelihoods"}


def endpoint_config(base_url: str, overrides: dict) -> Config:
    return Config().with_overrides(
        {
            "llm.backend": "openai",
            "llm.model": "embedded-behind-http",
            "llm.base_url": base_url,
            "llm.api_key_env": "CLEAR_BENCHMARK_NO_KEY",
            "llm.timeout_s": 600.0,
            **overrides,
        }
    )


def run_variant(server: FakeOpenAIServer, overrides: dict, per_dataset: int, work: Path) -> dict:
    config = endpoint_config(server.base_url, overrides)
    rows = {}
    with Store(work) as store:
        for file_name in DATASETS:
            path = ROOT / "sample_data" / file_name
            name = path.name.split(".")[0]
            store.add_dataset(_subset(path, per_dataset), name=name)
            before = server.count()
            started = time.perf_counter()
            summary = run_pipeline(store, name, config, stages=("score", "filter"))
            seconds = time.perf_counter() - started
            requests = server.count() - before
            row = evaluate(store, name, config, _labels(path), seconds, requests)
            rows[name] = {
                "examples": row["examples"],
                "requests_per_example": row["calls_per_example"],
                "sampled_share": row["sampled_share"],
                "auroc": row["auroc"]["confidence"],
                "precision": row["precision"],
                "recall": row["recall"],
                "failed": summary.failed,
                "seconds_per_example": row["seconds_per_example"],
            }
            print(f"{name}: {rows[name]}", file=sys.stderr, flush=True)
    total = sum(r["examples"] for r in rows.values())
    overall = sum(r["requests_per_example"] * r["examples"] for r in rows.values()) / max(total, 1)
    return {"overrides": overrides, "datasets": rows, "requests_per_example": round(overall, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-dataset", type=int, default=40)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    endpoint = EmbeddedEndpoint(EmbeddedBackend(Config().llm))
    report: dict = {"per_dataset": args.per_dataset, "model": Config().llm.model, "variants": {}}
    with (
        FakeOpenAIServer(reply=endpoint.reply, prompt_logprobs=endpoint.prompt_logprobs) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        for variant in args.variants:
            report["variants"][variant] = run_variant(
                server, VARIANTS[variant], args.per_dataset, Path(tmp) / f"{len(report['variants'])}.duckdb"
            )
    for cascade, full in BASELINE.items():
        got = report["variants"]
        if cascade in got and full in got:
            got[cascade]["share_of_full_requests"] = round(
                got[cascade]["requests_per_example"] / got[full]["requests_per_example"], 3
            )
    print_table(report)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


def print_table(report: dict) -> None:
    print(f"{'variant':<26}{'dataset':<22}{'req/ex':>7}{'sampled':>9}{'AUROC':>7}{'P':>6}{'R':>6}")
    for variant, got in report["variants"].items():
        for name, r in got["datasets"].items():
            print(
                f"{variant:<26}{name:<22}{r['requests_per_example']:>7}{r['sampled_share']:>9}"
                f"{_fmt(r['auroc']):>7}{_fmt(r['precision']):>6}{_fmt(r['recall']):>6}"
            )
        share = got.get("share_of_full_requests")
        print(
            f"{variant:<26}{'all':<22}{got['requests_per_example']:>7}" + (f"   {share:.0%} of full's" if share else "")
        )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    raise SystemExit(main())

"""``curate``: the command-line face of the library.

Every command takes ``--store PATH`` (default ``./curation.duckdb``). A user error prints one
line on stderr and exits with status 2; no traceback. The pipeline commands' flags and their
run live in :mod:`curation.cli_pipeline`.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from curation import __version__
from curation.cli_pipeline import add_pipeline_flags, run_stages
from curation.errors import CurationError, InvalidRecordError
from curation.store import DEFAULT_STORE, Store

if TYPE_CHECKING:
    from curation.finetune import Report

EXIT_USER_ERROR = 2
FORMAT_CHOICES = ("chat", "alpaca", "sharegpt", "prompt-response")


def _cmd_import(args: argparse.Namespace) -> int:
    from curation.ingest import import_file

    with Store(args.store) as store:
        result = import_file(
            store,
            args.file,
            name=args.name,
            fmt=args.format,
            prompt_col=args.prompt_col,
            response_col=args.response_col,
            skip_invalid=args.skip_invalid,
            append=args.append,
        )
    info = result.dataset
    print(f"imported {info.n_examples} examples into dataset {info.name!r} ({info.file_type}, {info.format} format)")
    if info.n_rejected:
        print(f"skipped {info.n_rejected} invalid record(s); see `curate status --rejected`")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    with Store(args.store) as store:
        report = {"store": str(args.store), "llm_cache_entries": store.cache_size(), "datasets": []}
        for info in store.datasets():
            entry = {
                "name": info.name,
                "format": info.format,
                "file_type": info.file_type,
                "source": info.source_path,
                "rejected": info.n_rejected,
                **store.status(info.dataset_id),
            }
            if args.rejected:
                entry["rejected_lines"] = store.rejected(info.dataset_id)
            report["datasets"].append(entry)
    if args.json:
        print(json.dumps(report, default=str))
        return 0
    if not report["datasets"]:
        print(f"{args.store}: no datasets yet; run `curate import FILE`")
        return 0
    columns = ("examples", "scored", "failed", "flagged", "proposed", "auto_applied", "decided")
    print(f"{'dataset':<28}" + "".join(f"{c:>13}" for c in columns))
    for entry in report["datasets"]:
        print(f"{entry['name']:<28}" + "".join(f"{entry[c]:>13}" for c in columns))
        for line in entry.get("rejected_lines", []):
            print(f"  rejected: {line['message']}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from curation.export import export_dataset

    with Store(args.store) as store:
        result = export_dataset(store, args.out, dataset=args.dataset, fmt=args.format, undecided=args.undecided)
    c = result.counts
    print(
        f"wrote {c['kept']} of {c['total']} examples to {result.path} "
        f"(removed {c['removed']}, corrected {c['corrected']}, edited {c['edited']}, "
        f"untouched {c['untouched']}); manifest: {result.manifest_path}"
    )
    choice = result.manifest["undecided"]["choice"]
    if c["undecided"]:
        where = f" to {result.held_path}" if result.held_path else ""
        print(
            f"{c['undecided']} flagged example(s) nobody decided on: {choice}{where} "
            f"(--undecided hold|drop|keep; review them with `curate app`)"
        )
    return 0


def _cmd_finetune(args: argparse.Namespace) -> int:
    from curation import finetune

    if args.status:
        return _finetune_status(args)
    if not args.model:
        raise CurationError(f"finetune: name the base model with --model (e.g. {finetune.DEFAULT_BASE_MODEL})")
    options = {"base_model": args.model, "epochs": args.epochs, "price_per_m": args.price}
    if args.dry_run and args.file:  # nothing to export and nothing to record: no store needed
        return _finetune_report(finetune.validate(args.file, args.provider, **options))
    with Store(args.store) as store:
        info = store.dataset(args.dataset)
        path = args.file or finetune.export_chat(store, info.name)
        if not args.file:
            print(f"exported {info.name!r} in the chat shape to {path}")
        code = _finetune_report(finetune.validate(path, args.provider, **options))
        if code or args.dry_run:
            return code
        llm = finetune.endpoint(store, info.name, base_url=args.base_url, api_key_env=args.api_key_env)
        job = finetune.start(
            path, args.model, store=store, dataset=info.name, llm=llm, provider=args.provider, epochs=args.epochs
        )
    print(
        f"started fine-tuning job {job.job_id} on {job.base_model} (file {job.file_id}, status {job.status}); "
        "follow it with `curate finetune --status`"
    )
    return 0


def _finetune_report(report: Report) -> int:
    """Print the estimate, the warnings and the problems; 2 when the file would be refused."""
    print(f"estimate: {report.estimate()}")
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if report.ok:
        return 0
    print(str(InvalidRecordError(list(report.problems))), file=sys.stderr)
    print(f"{report.path}: breaks {report.provider}'s fine-tuning rules; nothing was uploaded", file=sys.stderr)
    return EXIT_USER_ERROR


def _finetune_status(args: argparse.Namespace) -> int:
    from curation import finetune

    with Store(args.store) as store:
        info = store.dataset(args.dataset)
        llm = finetune.endpoint(store, info.name, base_url=args.base_url, api_key_env=args.api_key_env)
        jobs = finetune.status(store, dataset=info.name, llm=llm)
    if not jobs:
        print(f"{info.name}: no fine-tuning jobs yet; start one with `curate finetune --model BASE`")
        return 0
    print(f"{'job':<30}{'base model':<28}{'status':<18}fine-tuned model")
    for job in jobs:
        print(f"{job.job_id:<30}{job.base_model:<28}{job.status:<18}{job.fine_tuned_model or '-'}")
        if job.error:
            print(f"  error: {job.error}")
        if job.unreachable:
            print(f"  not refreshed: {job.unreachable}", file=sys.stderr)
        command = finetune.correct_command(job, dataset=info.name, store_path=_store_arg(args.store))
        if command:
            print(f"  close the loop: {command}")
    return 0


def _store_arg(store: str) -> str | None:
    return None if store == DEFAULT_STORE else str(store)


def _cmd_app(args: argparse.Namespace) -> int:
    app = Path(__file__).resolve().parent.parent / "app.py"
    if not app.is_file():
        raise CurationError(f"{app}: the app is not found; run `curate app` from a source checkout")
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address",
        args.host,
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--",
        "--store",
        str(Path(args.store).resolve()),
    ]
    return _run_forwarding_signals(command)


_FORWARDED = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name))


def _run_forwarding_signals(command: list[str]) -> int:
    """Run ``command``, passing SIGTERM / SIGINT / SIGHUP on to it; return its exit status.

    Killing `curate app` must stop Streamlit too, or it would keep the store's lock. A second
    signal kills the child outright (for a Streamlit that hangs while stopping).
    """
    received: list[int] = []
    child: subprocess.Popen | None = None

    def forward(signum: int, _frame: object) -> None:
        received.append(signum)
        if child is not None and len(received) == 1:
            child.send_signal(signum)
        elif child is not None:
            child.kill()

    previous = {sig: signal.signal(sig, forward) for sig in _FORWARDED}
    try:
        child = subprocess.Popen(command)
        if received:  # a signal came while it was starting
            child.send_signal(received[0])
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code  # killed by signal N: the shell's 128 + N


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="curate", description="Find and fix bad examples in fine-tuning data (CLEAR)."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--store", default=DEFAULT_STORE, help=f"project store file (default: ./{DEFAULT_STORE})")
        p.set_defaults(handler=handler)
        return p

    p = command("import", _cmd_import, "Import a dataset file (JSONL, JSON, CSV or Parquet) into the store.")
    p.add_argument("file", help="the dataset file")
    p.add_argument("--name", help="dataset name (default: the file's stem)")
    p.add_argument("--format", choices=FORMAT_CHOICES, help="record shape (default: detected)")
    p.add_argument("--prompt-col", help="prompt column for flat prompt/response data")
    p.add_argument("--response-col", help="response column for flat prompt/response data")
    p.add_argument("--skip-invalid", action="store_true", help="import the good records, keep the bad ones aside")
    p.add_argument("--append", action="store_true", help="add the file's new examples to the dataset of that name")

    p = command("status", _cmd_status, "Show each dataset's counts: examples, scored, flagged, proposed, decided.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--rejected", action="store_true", help="list the records skipped at import")

    p = command("export", _cmd_export, "Write the curated dataset as JSONL with a manifest beside it.")
    p.add_argument("--out", required=True, help="output file: .jsonl, or .parquet for Parquet")
    p.add_argument(
        "--format", default="own", choices=("own",) + FORMAT_CHOICES, help="output shape (default: the input's)"
    )
    p.add_argument("--dataset", help="dataset name (needed when the store has several)")
    p.add_argument(
        "--undecided",
        choices=("hold", "drop", "keep"),
        default=None,
        help="flagged examples nobody decided on: hold = leave out and write to <out>.held.jsonl, "
        "drop = remove, keep = write unchanged (default: the choice saved on the Export page, "
        "else hold)",
    )

    for name, stages, text in (
        ("score", ("score",), "Score every example's confidence (resumes; cached calls are free)."),
        ("filter", ("filter",), "Flag examples with confidence at or below γ (no LLM call)."),
        ("correct", ("correct",), "Propose and judge corrections for the flagged examples."),
        ("run", ("score", "filter", "correct"), "Run every stage: score, filter, correct."),
    ):
        p = command(name, lambda a, st=stages: run_stages(a, st), text)
        add_pipeline_flags(p)

    p = command(
        "finetune",
        _cmd_finetune,
        "Fine-tune a model on the curated export: check it against the provider's rules, upload it, "
        "start the job (--status: follow the jobs).",
    )
    p.add_argument("--provider", default="openai", help="fine-tuning provider (default and, so far, only: openai)")
    p.add_argument("--model", help="base model to fine-tune, e.g. gpt-4o-mini-2024-07-18")
    p.add_argument("--dataset", help="dataset name (needed when the store has several)")
    p.add_argument(
        "--file", help="the chat-shaped JSONL to send (default: export the dataset to <dataset>.finetune.jsonl)"
    )
    p.add_argument("--dry-run", action="store_true", help="check the file and estimate tokens and cost; send nothing")
    p.add_argument("--status", action="store_true", help="list the dataset's jobs, refreshed from the provider")
    p.add_argument("--epochs", type=int, help="training epochs (default: the provider's auto)")
    p.add_argument("--price", type=float, help="dollars per 1M trained tokens (default: the known price of --model)")
    p.add_argument("--base-url", help="endpoint (default: the one of the dataset's last run, else OpenAI's)")
    p.add_argument("--api-key-env", help="NAME of the environment variable holding the API key")

    p = command("app", _cmd_app, "Start the review app (Streamlit) on this store.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8501)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        return args.handler(args)
    except CurationError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted; finished work is saved in the store", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

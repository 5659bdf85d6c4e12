"""``curate``: the command-line face of the library.

Every command takes ``--store PATH`` (default ``./curation.duckdb``). A user error prints one
line on stderr and exits with status 2; no traceback.
"""
from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Callable, Sequence

from curation import __version__
from curation.errors import CurationError
from curation.store import DEFAULT_STORE, Store

EXIT_USER_ERROR = 2
FORMAT_CHOICES = ("chat", "alpaca", "sharegpt", "prompt-response")


def _cmd_import(args: argparse.Namespace) -> int:
    from curation.ingest import import_file

    with Store(args.store) as store:
        result = import_file(
            store, args.file, name=args.name, fmt=args.format, prompt_col=args.prompt_col,
            response_col=args.response_col, skip_invalid=args.skip_invalid,
        )
    info = result.dataset
    print(f"imported {info.n_examples} examples into dataset {info.name!r} "
          f"({info.file_type}, {info.format} format)")
    if info.n_rejected:
        print(f"skipped {info.n_rejected} invalid record(s); see `curate status --rejected`")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    with Store(args.store) as store:
        report = {"store": str(args.store), "llm_cache_entries": store.cache_size(), "datasets": []}
        for info in store.datasets():
            entry = {"name": info.name, "format": info.format, "file_type": info.file_type,
                     "source": info.source_path, "rejected": info.n_rejected, **store.status(info.dataset_id)}
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
        result = export_dataset(store, args.out, dataset=args.dataset, fmt=args.format)
    c = result.counts
    print(f"wrote {c['kept']} of {c['total']} examples to {result.path} "
          f"(removed {c['removed']}, corrected {c['corrected']}, edited {c['edited']}, "
          f"untouched {c['untouched']}); manifest: {result.manifest_path}")
    return 0


def _cmd_app(args: argparse.Namespace) -> int:
    app = Path(__file__).resolve().parent.parent / "app.py"
    if not app.is_file():
        raise CurationError(f"{app}: the app is not found; run `curate app` from a source checkout")
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.address", args.host,
               "--server.port", str(args.port), "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--", "--store", str(Path(args.store).resolve())]
    return subprocess.call(command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="curate", description="Find and fix bad examples in fine-tuning data (CLEAR).")
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

    p = command("status", _cmd_status, "Show each dataset's counts: examples, scored, flagged, proposed, decided.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--rejected", action="store_true", help="list the records skipped at import")

    p = command("export", _cmd_export, "Write the curated dataset as JSONL with a manifest beside it.")
    p.add_argument("--out", required=True, help="output JSONL file")
    p.add_argument("--format", default="own", choices=("own",) + FORMAT_CHOICES, help="output shape (default: the input's)")
    p.add_argument("--dataset", help="dataset name (needed when the store has several)")

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

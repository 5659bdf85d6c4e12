"""`curate export` killed with SIGKILL, then run again: the previous file or the complete new one.

Exports are killed by a hook in the subprocess: after N records, before the data file's
rename, and between the data file's and the manifest's renames.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.scripted import write_records
from tests.test_kill_resume import curate, decide, env, new_store

EXPORT_HOOK = r"""
import os, signal, sys
import curation.export as export

mode, n, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
seen = [0]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if mode == "records":  # killed while writing, after n records
    render = export.render_record
    def counting(*args, **kwargs):
        seen[0] += 1
        if seen[0] > n:
            die()
        return render(*args, **kwargs)
    export.render_record = counting
else:  # killed just before the n-th rename (1: the data file, 2: the manifest)
    replace = os.replace
    def dying(src, dst):
        seen[0] += 1
        if seen[0] == n:
            die()
        return replace(src, dst)
    os.replace = dying

from curation.cli import main
sys.exit(main(argv))
"""
N_EXPORT = 3000


def killed_export(store: Path, out: Path, mode: str, n: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", EXPORT_HOOK, mode, str(n), "export", "--store", str(store), "--out", str(out)],
        cwd=out.parent,
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr


def export(store: Path, out: Path) -> tuple[bytes, bytes]:
    proc = curate("export", "--store", str(store), "--out", str(out), cwd=out.parent)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return snapshot(out)


def snapshot(out: Path) -> tuple[bytes | None, bytes | None]:
    manifest = out.with_name(out.name + ".manifest.json")
    return (out.read_bytes() if out.exists() else None, manifest.read_bytes() if manifest.exists() else None)


def check_pair(data: bytes, manifest: bytes) -> dict:
    """A complete JSONL file and a manifest that describes exactly it."""
    lines = data.decode().splitlines()
    assert data.endswith(b"\n") and all(json.loads(line) for line in lines)
    about = json.loads(manifest)
    assert about["counts"]["kept"] == len(lines)
    assert about["output"]["sha256"] == hashlib.sha256(data).hexdigest()
    return about


def test_killed_export_leaves_the_previous_file_or_the_complete_new_one(tmp_path):
    data = tmp_path / "big.jsonl"
    write_records(data, [(f"r{i}", f"What is {i} + 1?", str(i + 1)) for i in range(N_EXPORT)])
    path = new_store(tmp_path / "export.duckdb", data)
    out = tmp_path / "out" / "curated.jsonl"
    out.parent.mkdir()

    killed_export(path, out, "records", 1000)  # the first export ever, killed: nothing appears
    assert snapshot(out) == (None, None)

    first = export(path, out)
    assert check_pair(*first)["counts"]["kept"] == N_EXPORT
    decide(path, [("r5", "remove", "alice", None)])  # the next export differs: one record fewer

    for mode, n in (("records", 10), ("records", 2500), ("replace", 1)):
        killed_export(path, out, mode, n)
        assert snapshot(out) == first, (mode, n)  # the previous export, untouched

    killed_export(path, out, "replace", 2)  # between the two renames: new data, previous manifest
    new_data, manifest = snapshot(out)
    assert manifest == first[1]
    assert len(new_data.decode().splitlines()) == N_EXPORT - 1
    stale = json.loads(manifest)
    assert stale["output"]["sha256"] != hashlib.sha256(new_data).hexdigest()  # the mismatch shows

    second = export(path, out)
    assert second[0] == new_data
    assert check_pair(*second)["counts"] == {
        "total": N_EXPORT,
        "kept": N_EXPORT - 1,
        "removed": 1,
        "corrected": 0,
        "edited": 0,
        "untouched": N_EXPORT - 1,
        "held": 0,
        "undecided": 0,
    }
    assert sorted(p.name for p in out.parent.iterdir() if not p.name.startswith(".")) == [
        "curated.jsonl",
        "curated.jsonl.manifest.json",
    ]

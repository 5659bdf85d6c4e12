"""The `curate` command end to end, in a temporary directory, as a user runs it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from curation.cli import main

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"


def run(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "curation.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SAMPLES.parent)},
    )


def test_import_status_export_end_to_end(tmp_path):
    for name in ("support_intents.jsonl", "passage_qa.jsonl", "math_word_problems.json", "open_chat.csv"):
        done = run("import", str(SAMPLES / name), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("imported ")
    assert (tmp_path / "curation.duckdb").exists()
    status = run("status", "--json", cwd=tmp_path)
    report = json.loads(status.stdout)
    assert {d["name"]: d["examples"] for d in report["datasets"]} == {
        "support_intents": 160,
        "passage_qa": 150,
        "math_word_problems": 150,
        "open_chat": 150,
    }
    done = run("export", "--out", "out/qa.jsonl", "--dataset", "passage_qa", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    exported = (tmp_path / "out" / "qa.jsonl").read_text().splitlines()
    original = (SAMPLES / "passage_qa.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in exported] == [json.loads(x) for x in original]
    assert (tmp_path / "out" / "qa.jsonl.manifest.json").exists()


def test_bad_file_is_one_line_per_problem_and_exit_2(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "response": "b"}\n{"prompt": "c", "response": null}\nnot json\n')
    done = run("import", str(bad), cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("error: ")
    assert any(f"{bad}:2: response must be a string, got null" in line for line in lines)
    assert any(f"{bad}:3: invalid JSON" in line for line in lines)
    status = run("status", "--json", cwd=tmp_path)
    assert json.loads(status.stdout)["datasets"] == []  # a failed import writes nothing


def test_skip_invalid_imports_the_good_records(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "response": "b"}\n{"prompt": "", "response": "c"}\n')
    store = str(tmp_path / "s.duckdb")
    assert main(["import", str(bad), "--skip-invalid", "--store", store]) == 0
    assert "skipped 1 invalid record" in capsys.readouterr().out
    assert main(["status", "--rejected", "--store", store]) == 0
    assert f"{bad}:2: prompt is empty" in capsys.readouterr().out


def test_csv_with_other_column_names(tmp_path, capsys):
    data = tmp_path / "qa.csv"
    data.write_text("q,a\nWhat is 2+2?,4\n")
    store = str(tmp_path / "s.duckdb")
    assert main(["import", str(data), "--store", store]) == 2
    assert "column 'prompt' not found; columns are: q, a" in capsys.readouterr().err
    assert main(["import", str(data), "--prompt-col", "q", "--response-col", "a", "--store", store]) == 0


def test_user_errors_exit_2_without_traceback(tmp_path, capsys):
    store = str(tmp_path / "s.duckdb")
    assert main(["export", "--out", str(tmp_path / "x.jsonl"), "--store", store]) == 2
    assert "none yet; run `curate import FILE` first" in capsys.readouterr().err
    assert main(["import", str(tmp_path / "missing.jsonl"), "--store", store]) == 2
    assert "missing.jsonl: file not found" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["import", "status", "export", "app", "run", "score", "filter", "correct"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit, match="0"):
        main([command, "--help"])
    assert "--store" in capsys.readouterr().out


@pytest.mark.parametrize("choice, written, held", [("hold", 154, 6), ("drop", 154, None), ("keep", 160, None)])
def test_export_says_what_it_does_with_undecided_flags(tmp_path, capsys, choice, written, held):
    from tests.browser.seed import seed_scored_store

    store = str(tmp_path / "s.duckdb")
    seed_scored_store(store)  # 6 flagged examples, nobody decided on any
    out = tmp_path / "out.jsonl"
    assert main(["export", "--out", str(out), "--undecided", choice, "--store", store]) == 0
    said = capsys.readouterr().out
    assert f"wrote {written} of 160 examples" in said
    assert f"6 flagged example(s) nobody decided on: {choice}" in said
    assert len(out.read_text().splitlines()) == written
    held_file = tmp_path / "out.jsonl.held.jsonl"
    assert (len(held_file.read_text().splitlines()) if held_file.exists() else None) == held

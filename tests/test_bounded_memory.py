"""Bounded memory: importing 200,000 records takes hardly more memory than importing 2,000.

Each import runs in a child process of its own, whose peak resident set (``ru_maxrss``) is
measured (:func:`benchmarks.scale.in_child`), on a store whose DuckDB may hold 128 MB. Before
imports streamed, every record cost a few kilobytes held until the end: these 200,000 short
records took 1.3 GB, about 1 GB more than 2,000 of them. Now records pass through a chunk at a
time into the store's staging table, which DuckDB spills to disk past its memory limit.
"""

from __future__ import annotations

from benchmarks.scale import in_child, write_chat

MEMORY_LIMIT = "128MB"
#: What 198,000 more records may add to the peak, in MB: DuckDB's 128 MB and its allocator's slack.
GROWTH_MB = 300


def test_a_long_file_imports_in_flat_memory(tmp_path):
    small = write_chat(tmp_path / "small.jsonl", 2_000, answer_words=8)
    large = write_chat(tmp_path / "large.jsonl", 200_000, answer_words=8)
    floor = in_child("import", str(tmp_path / "small.duckdb"), str(small), MEMORY_LIMIT)
    done = in_child("import", str(tmp_path / "large.duckdb"), str(large), MEMORY_LIMIT)
    assert (floor["examples"], done["examples"]) == (2_000, 200_000)
    assert done["peak_rss_mb"] - floor["peak_rss_mb"] < GROWTH_MB, (floor, done)

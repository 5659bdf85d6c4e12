"""Fixtures the benchmarks measure with, shared with the tests: the injection corpus and a fake
OpenAI-compatible server (a test double for a *remote* service only)."""

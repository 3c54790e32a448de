"""Synthetic landing data for benchmarks and tests (pure Python, deterministic per seed)."""

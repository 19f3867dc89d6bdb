"""Benchmarks: speed and memory targets live here and in their result files, never in timed tests."""

"""Measures of results (word error rate) used by tests and benchmarks."""

"""Benchmarks and the classic-recipe baseline for localvision; not run by the tests.

Run modules from the repository root, e.g. ``python -m bench.smoke_classic``.
"""

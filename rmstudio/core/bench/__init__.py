"""Benchmarks that measure RM Studio against native engines side by side, in one run.

They live in the package (not only as scripts) so that ``rmstudio bench ...`` prints the
figures of docs/PERFORMANCE.md on any machine where RM Studio is installed from source, with
the same clips, models and settings as the documented runs. Nothing here imports Qt.
"""

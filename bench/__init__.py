"""Benchmarks: scripts that print timings side by side with a baseline. Not tests (see STYLE.md point 9)."""

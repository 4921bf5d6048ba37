"""Benchmarks: measured, never asserted. Each writes a JSON report and a plot (``exowavenet bench …``)."""

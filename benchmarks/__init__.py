"""Benchmarks of opensips-mcp, each figure beside a baseline measured in the same run.

Run them with ``make bench`` (``python -m benchmarks.run``): results go to
``benchmarks/results/latest.json`` (pytest-benchmark's JSON) and ``latest.md`` (the table
of figures, ratios to their baselines, and the targets). They are not part of
``make test``; ``tests/test_benchmarks_smoke.py`` runs each once, quickly.
"""

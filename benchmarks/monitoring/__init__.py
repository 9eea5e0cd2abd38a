"""The monitoring benchmark (``benchmarks/monitoring_run.py``): data drift reports of skewless,
Evidently and a plain numpy/scipy script on the same generated data.

``workload.py`` (standard library only) holds the workload and the measurement helpers every
side imports; ``data.py`` writes the data; ``skewless_bench.py``, ``evidently_bench.py`` (in
``benchmarks/.venv-evidently``) and ``scipy_bench.py`` are the sides.
"""

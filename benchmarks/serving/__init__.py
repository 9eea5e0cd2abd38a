"""The serving benchmark (``benchmarks/serving_run.py``): ``skewless serve`` against the
hand-written FastAPI service, both loaded with wrk from 127.0.0.1.

``project.py`` builds the example project, the model and the request bodies; ``load.py`` starts
and stops the servers and runs wrk with ``post.lua``; ``handwritten.py`` is the baseline
service, run with the plain ``uvicorn`` command line.
"""

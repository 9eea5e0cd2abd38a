"""``skewless serve``: the app in N uvicorn worker processes sharing one listening socket.

The socket is created here with ``IPPROTO_TCP`` as its protocol. uvicorn's own ``--workers``
supervisor binds with protocol 0, accepted connections inherit it, and asyncio then does not
set ``TCP_NODELAY`` on them: every keep-alive response waits ~40 ms for the client's delayed
ACK (uvicorn issue 3149). Each worker runs the app with uvloop and httptools, loads its models
at start-up, and on SIGTERM stops accepting, finishes the requests in flight, and flushes its
prediction log before it exits. A worker that dies is started again.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Sequence
from multiprocessing.process import BaseProcess
from typing import Any

__all__ = ["bind_socket", "serve"]

log = logging.getLogger("skewless.serving")
_GRACE_S = 30.0


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket whose accepted connections get ``TCP_NODELAY``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _run_worker(sock: socket.socket, project: str, models: list[str], log_level: str) -> None:
    """One worker process: build the app and serve it on the shared socket until SIGTERM."""
    import uvicorn

    from skewless.serving._app import create_app

    app = create_app(project, models)
    config = uvicorn.Config(app, loop="uvloop", http="httptools", lifespan="on",
                            log_level=log_level, access_log=False,
                            timeout_graceful_shutdown=int(_GRACE_S))
    uvicorn.Server(config).run(sockets=[sock])


def serve(project: str | os.PathLike[str] | None, models: Sequence[str], *,
          host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          log_level: str = "warning") -> None:
    """Serve ``models`` of ``project`` on ``host:port`` with ``workers`` processes until
    interrupted (SIGINT/SIGTERM), then shut every worker down gracefully."""
    from skewless._project import Project
    from skewless.serving._deployment import DeploymentSpec

    context_project = Project(project)
    folder = str(context_project.path)
    for spec in map(DeploymentSpec.parse, models):  # unknown models fail here, once, clearly
        context_project.registry.get_model_version(str(spec))
    context_project.close()
    sock = bind_socket(host, port)
    metrics_dir = tempfile.mkdtemp(prefix="skewless-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # read by the workers' imports
    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()
    processes: list[BaseProcess] = []

    def start() -> BaseProcess:
        process = context.Process(target=_run_worker, name="skewless-worker",
                                  args=(sock, folder, list(models), log_level))
        process.start()
        return process

    def stop(signum: int, frame: Any) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        processes.extend(start() for _ in range(workers))
        while not stopping.wait(0.5):
            for index, process in enumerate(processes):
                if not process.is_alive() and not stopping.is_set():
                    _forget(metrics_dir, process.pid)
                    if process.exitcode == 3:  # the app could not start: do not loop
                        raise SystemExit("a worker could not start the app; see its error above")
                    log.warning("worker %s exited with %s; starting another", process.pid,
                                process.exitcode)
                    processes[index] = start()
    finally:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        for process in processes:
            process.join(_GRACE_S + 5)
            if process.is_alive():
                process.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


def _forget(metrics_dir: str, pid: int | None) -> None:
    """Drop a dead worker's live gauges (in-flight, queue depth) from the totals."""
    if pid is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, metrics_dir)

"""Starting and stopping the servers, and loading them with wrk.

Every server runs as a subprocess in a session of its own, with its output in a log file; it
is stopped with SIGTERM (and what is left of its process group is killed after a grace period)
whatever happens. wrk runs bounded: ``-d`` seconds, ``--timeout 2s``, and a subprocess timeout
on top. Only 127.0.0.1 is ever addressed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LUA = HERE / "post.lua"
HOST = "127.0.0.1"
READY_TIMEOUT_S = 120.0
STOP_GRACE_S = 20.0
WRK_TIMEOUT = "2s"
RESULT_MARK = "SERVING_RESULT "


@dataclass(frozen=True)
class Server:
    """How to start one service and where it answers."""

    name: str
    command: list[str]
    cwd: Path
    env: dict[str, str]
    port: int
    ready_path: str  # GET here answers 200 once the service takes traffic
    predict_path: str
    log: Path

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def wrk_path() -> str:
    """The wrk binary, or an error saying how to install it."""
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("the serving benchmark needs wrk 4: `apt install wrk` (Debian/Ubuntu)")
    return found


def wrk_version() -> str:
    """wrk's version line (``wrk -v`` prints it with the usage and exits 1)."""
    done = subprocess.run([wrk_path(), "-v"], capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).splitlines()[0].strip()


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def running(server: Server) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``server``, wait until it is ready, and stop it on the way out."""
    with server.log.open("ab") as log:
        process = subprocess.Popen(server.command, cwd=server.cwd, env=server.env,
                                   stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_ready(server, process)
        yield process
    finally:
        stop(process)


def wait_ready(server: Server, process: subprocess.Popen[bytes]) -> None:
    """Poll ``server.ready_path`` until it answers 200; fail if the process exits first."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with code {process.returncode} before it "
                               f"was ready; the end of {server.log}:\n{tail(server.log)}")
        try:
            with urllib.request.urlopen(server.url(server.ready_path), timeout=1) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass  # not listening yet, or 503 while the models load
        time.sleep(0.25)
    raise RuntimeError(f"{server.name} was not ready after {READY_TIMEOUT_S:.0f} s; the end of "
                       f"{server.log}:\n{tail(server.log)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server, wait for it, then kill whatever is left of its process group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(STOP_GRACE_S)
    # The group is the server's own session (start_new_session): its workers, nothing else.
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def post(server: Server, body: str) -> tuple[int, str]:
    """POST one JSON body to the server's predict path: status and response text."""
    request = urllib.request.Request(server.url(server.predict_path), data=body.encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def check_answers(server: Server, bodies: Path, count: int = 5) -> dict[str, Any]:
    """POST the first ``count`` bodies one by one; an error unless every answer is 200."""
    lines = bodies.read_text().splitlines()[:count]
    answers = [post(server, line) for line in lines]
    failed = [(status, text) for status, text in answers if status != 200]
    if failed:
        status, text = failed[0]
        raise RuntimeError(f"{server.name} answered {status} to a benchmark request "
                           f"{lines[0]}:\n{text[:1000]}")
    return {"request": json.loads(lines[0]), "response": answers[0][1][:500]}


def wrk(server: Server, bodies: Path, concurrency: int, seconds: float) -> dict[str, Any]:
    """One wrk run of ``seconds`` at ``concurrency`` connections; its measurements."""
    threads = min(concurrency, 2)
    command = [wrk_path(), "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds:g}s",
               "--timeout", WRK_TIMEOUT, "--latency", "-s", str(LUA),
               server.url(server.predict_path), "--", str(bodies)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60,
                          check=False)
    marked = [line for line in done.stdout.splitlines() if line.startswith(RESULT_MARK)]
    if done.returncode != 0 or not marked:
        raise RuntimeError(f"wrk failed (exit code {done.returncode}): {' '.join(command)}\n"
                           f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
    raw = json.loads(marked[-1].removeprefix(RESULT_MARK))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", done.stdout)
    errors = raw["errors"]
    socket_errors = {k: int(v) for k, v in errors.items() if k != "status"}
    duration_s = raw["duration_us"] / 1e6
    return {
        "concurrency": concurrency,
        "threads": threads,
        "seconds": round(duration_s, 3),
        "requests": int(raw["requests"]),
        "requests_per_s": round(raw["requests"] / duration_s, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 3),
        "p90_ms": round(raw["p90_us"] / 1000, 3),
        "p99_ms": round(raw["p99_us"] / 1000, 3),
        "max_ms": round(raw["max_us"] / 1000, 3),
        "mean_ms": round(raw["mean_us"] / 1000, 3),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else int(errors["status"]),
        "socket_errors": socket_errors,
        "errors": int(errors["status"]) + sum(socket_errors.values()),
    }


def measure(server: Server, bodies: Path, concurrencies: list[int], seconds: float,
            warmup_s: float, log: Any) -> list[dict[str, Any]]:
    """For each concurrency: a warm-up wrk run (not kept), then the measured one."""
    results = []
    for concurrency in concurrencies:
        if warmup_s > 0:
            wrk(server, bodies, concurrency, warmup_s)
        result = wrk(server, bodies, concurrency, seconds)
        log(f"  {server.name} c={concurrency}: {result['requests_per_s']:,.0f} requests/s, "
            f"p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, "
            f"{result['errors']} errors")
        results.append(result)
    return results


def scrape_metrics(server: Server) -> dict[str, Any]:
    """The server's ``skewless_*`` Prometheus samples (histogram buckets left out)."""
    try:
        with urllib.request.urlopen(server.url("/metrics"), timeout=5) as answer:
            text = answer.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as exc:
        return {"error": f"GET /metrics failed: {exc}"}
    samples: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.startswith("skewless_") or "_bucket{" in line:
            continue
        name, _, value = line.rpartition(" ")
        try:
            samples[name] = float(value)
        except ValueError:
            continue
    return samples


def uvicorn_nodelay_pitfall() -> dict[str, Any]:
    """Whether this uvicorn's pre-bound socket (``--workers N``) has the TCP_NODELAY pitfall:
    the listener is created with ``proto`` 0, so asyncio does not set TCP_NODELAY on the
    accepted connections (uvicorn issue 3149)."""
    import uvicorn
    from uvicorn.config import Config

    config = Config(app="handwritten:app", host=HOST, port=0, log_level="warning")
    sock = config.bind_socket()
    try:
        proto = sock.proto
    finally:
        sock.close()
    return {"uvicorn": uvicorn.__version__, "bound_socket_proto": proto,
            "affected": proto != socket.IPPROTO_TCP}

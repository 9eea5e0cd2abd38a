"""Run the serving benchmark, ``skewless serve`` vs the hand-written service, with one command.

    .venv/bin/python benchmarks/serving_run.py                     # 20 s per measured run
    .venv/bin/python benchmarks/serving_run.py --quick             # 3 s per measured run
    .venv/bin/python benchmarks/serving_run.py --only handwritten  # reuse skewless's last results
    .venv/bin/python benchmarks/serving_run.py --stores sqlite     # skewless on SQLite only

Steps:

1. check the tools: wrk (``apt install wrk``), ``skewless serve`` when the skewless side runs,
   Redis at 127.0.0.1:6379 when the Redis store is measured;
2. build the example fraud project, train and promote the model, export it with joblib and
   sample the request bodies (``serving/project.py``), in a temporary folder removed at exit;
3. for each service - the hand-written one (``uvicorn handwritten:app --workers 2``), then
   ``skewless serve --workers 2`` once per online store - start it on a free port of
   127.0.0.1, wait until it is ready, and for concurrency 1, 16 and 64 run wrk for a 2 s
   warm-up and then the measured run (``serving/load.py``, ``serving/post.lua``); stop it with
   SIGTERM. Each side's results are kept in ``benchmarks/.data/serving/`` (``--only SIDE``
   reuses the other side's last results of the same duration);
4. print the results and the targets as Markdown tables and write everything, with a
   description of the machine, to ``benchmarks/results/serving-<date>[-quick].json``.

Both services run in this environment (the hand-written one needs FastAPI, uvicorn, pandas
and scikit-learn, which the project depends on anyway, and must unpickle the same
scikit-learn model), so no separate virtual environment is needed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The feature-store benchmark's table renderer, machine description and side collection.
from run import _fmt, _table, collect_sides, machine
from serving.load import (
    HOST,
    Server,
    check_answers,
    free_port,
    measure,
    running,
    scrape_metrics,
    uvicorn_nodelay_pitfall,
    wrk_path,
    wrk_version,
)
from serving.project import (
    ALIAS,
    BIN,
    MODEL,
    SKEWLESS,
    Setup,
    build,
    check_redis,
    clean_env,
    drop_redis_keys,
)

HERE = Path(__file__).resolve().parent
SERVING = HERE / "serving"
SIDE_RESULTS_DIR = HERE / ".data" / "serving"
RESULTS_DIR = HERE / "results"
SIDES = ("handwritten", "skewless")
STORES = ("sqlite", "redis")
CONCURRENCIES = [1, 16, 64]
SECONDS = {"full": 20.0, "quick": 3.0}
WARMUP_S = 2.0
WORKERS = 2
PACKAGES = ("skewless", "fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic",
            "pandas", "numpy", "scikit-learn", "joblib", "onnxruntime", "skl2onnx", "redis",
            "orjson", "prometheus-client")
NO_STORE = "- (features in the body)"
DEFAULT = "default"  # the runs' variant: the command as given, no extra options
TOOLS = {"handwritten": "hand-written (FastAPI + pydantic + pandas + joblib)",
         "skewless": "skewless serve"}

Doc = dict[str, Any]


def log(message: str) -> None:
    print(message, flush=True)


def skewless_serve_problem() -> str | None:
    """Why ``skewless serve`` cannot be run from this environment, or ``None``."""
    if not SKEWLESS.exists():
        return f"{SKEWLESS} does not exist: install the project into {sys.prefix} (`make`)"
    done = subprocess.run([str(SKEWLESS), "serve", "--help"], capture_output=True, text=True,
                          env=clean_env(), check=False)
    if done.returncode != 0:
        said = " ".join((done.stderr or done.stdout).replace("│", " ").split()).strip("╭╮╰╯─ ")
        return (f"`skewless serve` is not available yet in this environment ({SKEWLESS} serve "
                f"--help: {said or f'exit code {done.returncode}'}), so the skewless side cannot "
                "run. Measure the hand-written service alone with --only handwritten.")
    return None


def side_results(side: str, quick: bool) -> Path:
    """Where a side's last results of this run length are kept."""
    return SIDE_RESULTS_DIR / f"results-{side}{'-quick' if quick else ''}.json"


def handwritten_server(setup: Setup, loop: str | None = None) -> Server:
    """The hand-written service on a free port, started as users start it."""
    assert setup.model_joblib is not None
    port = free_port()
    args = ["handwritten:app", "--host", HOST, "--port", str(port), "--workers", str(WORKERS),
            *(["--loop", loop] if loop else [])]
    return Server(
        name=f"handwritten{f' --loop {loop}' if loop else ''}",
        command=[str(BIN / "uvicorn"), *args],
        cwd=SERVING,
        env={**clean_env(), "MODEL_PATH": str(setup.model_joblib)},
        port=port,
        ready_path="/health",
        predict_path="/predict",
        log=setup.root / f"handwritten{f'-{loop}' if loop else ''}.log",
    )


def run_handwritten(setup: Setup, seconds: float) -> Doc:
    """The hand-written service, as users run it: ``uvicorn handwritten:app --workers 2``.

    Then once more at concurrency 1 with ``--loop asyncio`` - what uvicorn runs on when uvloop
    is not installed (``pip install uvicorn`` without ``[standard]``) - where the missing
    TCP_NODELAY shows: uvloop sends a response's headers and body in one write, asyncio in two,
    and the second waits for the client's delayed ACK.
    """
    server = handwritten_server(setup)
    command = " ".join(server.command[1:])
    log(f"hand-written service: uvicorn {command}")
    with running(server):
        sample = check_answers(server, setup.bodies["handwritten"])
        runs = measure(server, setup.bodies["handwritten"], CONCURRENCIES, seconds, WARMUP_S, log)
    asyncio_server = handwritten_server(setup, loop="asyncio")
    with running(asyncio_server):
        check_answers(asyncio_server, setup.bodies["handwritten"])
        asyncio_runs = measure(asyncio_server, setup.bodies["handwritten"], [1], seconds,
                               WARMUP_S, log)
    return {
        "tool": TOOLS["handwritten"],
        "command": f"MODEL_PATH=model.joblib uvicorn {command}",
        "workers": WORKERS,
        "tcp_nodelay_pitfall": uvicorn_nodelay_pitfall(),
        "model": setup.describe(),
        "sample": sample,
        "runs": [{"store": NO_STORE, "variant": DEFAULT, **run} for run in runs]
        + [{"store": NO_STORE, "variant": "--loop asyncio", **run} for run in asyncio_runs],
    }


def run_skewless(setup: Setup, seconds: float) -> Doc:
    """``skewless serve --workers 2``, once per online store of ``setup``."""
    runs, metrics, samples, commands = [], {}, {}, {}
    for store, project in setup.projects.items():
        port = free_port()
        args = ["serve", "--model", f"{MODEL}@{ALIAS}", "--host", HOST, "--port", str(port),
                "--workers", str(WORKERS), "--project", str(project)]
        server = Server(
            name=f"skewless ({store})",
            command=[str(SKEWLESS), *args],
            cwd=project,
            env=clean_env(),
            port=port,
            ready_path="/ready",
            predict_path=f"/v1/models/{MODEL}/predict",
            log=setup.root / f"skewless-{store}.log",
        )
        commands[store] = f"skewless {' '.join(args)}"
        log(f"skewless, {store} online store: {commands[store]}")
        with running(server):
            samples[store] = check_answers(server, setup.bodies["skewless"])
            measured = measure(server, setup.bodies["skewless"], CONCURRENCIES, seconds,
                               WARMUP_S, log)
            metrics[store] = scrape_metrics(server)
        runs += [{"store": store, "variant": DEFAULT, **run} for run in measured]
    return {
        "tool": TOOLS["skewless"],
        "commands": commands,
        "workers": WORKERS,
        "model": setup.describe(),
        "sample": samples,
        "server_metrics": metrics,
        "runs": runs,
    }


def _run(doc: Doc, store: str, concurrency: int, variant: str = DEFAULT) -> Doc | None:
    """A side's run for one store, concurrency and variant, if it has one."""
    for run in doc.get("runs", []):
        if (run["store"], run["concurrency"], run.get("variant", DEFAULT)) == (
                store, concurrency, variant):
            return dict(run)
    return None


def target_rows(results: dict[str, Doc]) -> list[list[Any]]:
    """One row per target and online store: target, store, measured, met.

    A target counts as met only by a run without errors.
    """
    ours, theirs = results.get("skewless", {}), results.get("handwritten", {})
    baseline = _run(theirs, NO_STORE, 64)
    stores = sorted({run["store"] for run in ours.get("runs", [])}) or ["-"]
    rows: list[list[Any]] = []
    for store in stores:
        c64, c16, c1 = (_run(ours, store, c) for c in (64, 16, 1))
        ratio = (c64["requests_per_s"] / baseline["requests_per_s"]
                 if c64 and baseline and baseline["requests_per_s"] else None)
        checks = [
            (">= 2,000 requests/s at c=64", c64, c64 and c64["requests_per_s"],
             lambda v: v >= 2_000),
            (">= 8x the hand-written service at c=64", c64 if baseline else None, ratio,
             lambda v: v >= 8),
            ("p99 < 10 ms at c=16", c16, c16 and c16["p99_ms"], lambda v: v < 10),
            ("p50 < 2 ms at c=1", c1, c1 and c1["p50_ms"], lambda v: v < 2),
        ]
        for label, run, value, passes in checks:
            if run is None or value is None:
                rows.append([label, store, "-", "not measured"])
                continue
            shown = f"{value:.1f}x" if "8x" in label else _fmt(value)
            met = "yes" if passes(value) and not run["errors"] else (
                f"NO ({run['errors']} errors)" if run["errors"] else "NO")
            rows.append([label, store, shown, met])
    return rows


def notes(doc: Doc) -> list[str]:
    """What to know when reading this run's numbers."""
    results, said = doc["results"], []
    theirs = results.get("handwritten")
    if theirs:
        pitfall = theirs.get("tcp_nodelay_pitfall", {})
        c1, slow = _run(theirs, NO_STORE, 1), _run(theirs, NO_STORE, 1, "--loop asyncio")
        if pitfall.get("affected"):
            said.append(
                f"uvicorn {pitfall['uvicorn']} binds the --workers socket with proto "
                f"{pitfall['bound_socket_proto']}, so the hand-written service's connections get "
                "no TCP_NODELAY (uvicorn issue 3149). On uvloop, uvicorn's default loop when it "
                "is installed, a response's headers and body leave in one write and nothing "
                "waits" + (f" (p50 {c1['p50_ms']:.1f} ms at c=1)" if c1 else "") + "; on the "
                "asyncio loop (uvicorn without uvloop) they leave in two, and the body waits "
                "for the client's delayed ACK, about 40 ms"
                + (f" (p50 {slow['p50_ms']:.1f} ms at c=1 with --loop asyncio)" if slow else "")
                + ".")
    onnx = doc.get("workload", {}).get("onnx_export")
    if onnx is not None and not onnx.get("kept"):
        said.append(f"WARNING: {MODEL}@{ALIAS} has no ONNX export, so skewless cannot serve it "
                    f"via ONNX: {onnx.get('reason')}")
    ours = results.get("skewless")
    if ours:
        for store, samples in ours.get("server_metrics", {}).items():
            worrying = {k: v for k, v in samples.items()
                        if isinstance(v, float) and v > 0
                        and ("fallbacks" in k or "dropped" in k or "status=\"5" in k)}
            if worrying or "error" in samples:
                said.append(f"skewless ({store}) server metrics after the runs: "
                            f"{worrying or samples['error']}")
    for side, result in results.items():
        if result.get("error"):
            said.append(f"{side} failed: {result['error'].splitlines()[0]}")
        failed = [run for run in result.get("runs", []) if run["errors"]]
        for run in failed:
            said.append(f"{side} ({run['store']}) c={run['concurrency']}: {run['non_2xx']} "
                        f"non-2xx responses, socket errors {run['socket_errors']}")
    host = doc["machine"]
    said.append(f"load average {host['load_average_at_start']:.2f} at the start, "
                f"{host['load_average_at_end']:.2f} at the end on {host['cpus']} CPUs; wrk runs "
                "on the same machine as the servers (other work skews the numbers).")
    return said


def _variant(run: Doc) -> str:
    """How a run's command differs from the side's command, for the table."""
    variant = run.get("variant", DEFAULT)
    return "" if variant == DEFAULT else f", {variant}"


def render(doc: Doc) -> str:
    """The results and the targets as Markdown tables, then the notes."""
    results = doc["results"]
    rows = [
        [side["tool"].split(" (")[0] + _variant(run), run["store"], run["concurrency"],
         run["requests_per_s"], run["p50_ms"], run["p99_ms"], run["errors"]]
        for name in SIDES if (side := results.get(name))
        for run in side["runs"]
    ]
    tables = [
        _table(
            f"Serving: wrk from 127.0.0.1, {doc['seconds']:g} s per run after a "
            f"{doc['warmup_s']:g} s warm-up, {WORKERS} workers each",
            ["service", "online store", "concurrency", "requests/s", "p50 ms", "p99 ms",
             "errors"],
            rows,
        ),
        _table("Targets (skewless serve, with the feature lookup and prediction logging)",
               ["target", "online store", "measured", "met"], target_rows(results)),
    ]
    text = "\n\n".join(table for table in tables if table)
    return text + "\n\n" + "\n".join(f"- {note}" for note in notes(doc))


def cpu_model() -> str | None:
    """The CPU's model name from /proc/cpuinfo."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def versions() -> dict[str, str | None]:
    """Installed versions of the packages either service runs on."""
    found: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def _terminate(signum: int, _frame: Any) -> None:
    """Turn SIGTERM into an exit, so that every server is stopped on the way out."""
    raise SystemExit(128 + signum)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description="Serving benchmark: skewless serve vs a hand-written FastAPI service.")
    parser.add_argument("--quick", action="store_true",
                        help=f"{SECONDS['quick']:g} s runs instead of {SECONDS['full']:g} s")
    parser.add_argument("--only", choices=SIDES,
                        help="run one side, reuse the other's last results")
    parser.add_argument("--stores", default=",".join(STORES),
                        help="online stores for skewless, comma-separated (default: "
                        f"{','.join(STORES)})")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folder (projects, model, server logs)")
    args = parser.parse_args()
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    if not stores or set(stores) - set(STORES):
        parser.error(f"--stores takes a comma-separated subset of {','.join(STORES)}")
    sides = [args.only] if args.only else list(SIDES)

    wrk_path()  # exits with the install command when wrk is missing
    if "skewless" in sides:
        problem = skewless_serve_problem()
        if problem is None and "redis" in stores:
            problem = check_redis()
        if problem:
            sys.exit(problem)

    signal.signal(signal.SIGTERM, _terminate)
    seconds = SECONDS["quick" if args.quick else "full"]
    started, host = datetime.now(UTC), machine()
    host |= {"cpu_model": cpu_model(), "wrk": wrk_version(), "packages": versions()}
    setup = Setup(root=Path(tempfile.mkdtemp(prefix="skewless-bench-serving-")))
    failed: list[str] = []
    try:
        try:
            build(setup, stores if "skewless" in sides else [], log)
        except RuntimeError as exc:
            sys.exit(f"error: setting up the benchmark's projects failed: {exc}")
        runners = {"handwritten": run_handwritten, "skewless": run_skewless}

        def run_side(side: str) -> Doc:
            try:
                result = runners[side](setup, seconds)
            except RuntimeError as exc:  # a server that does not start or answer, wrk failing
                print(f"error: the {side} side failed: {exc}", file=sys.stderr, flush=True)
                failed.append(side)
                return {"tool": TOOLS[side], "error": str(exc), "runs": []}
            out = side_results(side, args.quick)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(result, indent=2) + "\n")
            return result

        results = collect_sides(SIDES, sides, lambda side: side_results(side, args.quick),
                                run_side)
    finally:
        if setup.redis_prefix:
            deleted = drop_redis_keys(setup.redis_prefix)
            log(f"deleted {deleted} Redis keys under {setup.redis_prefix}")
        if args.keep:
            log(f"kept {setup.root}")
        else:
            shutil.rmtree(setup.root, ignore_errors=True)

    host["load_average_at_end"] = os.getloadavg()[0]
    doc = {
        "benchmark": "serving",
        "date": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "seconds": seconds,
        "warmup_s": WARMUP_S,
        "concurrencies": CONCURRENCIES,
        "machine": host,
        "workload": setup.describe(),
        "results": results,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"serving-{started:%Y-%m-%d}{'-quick' if args.quick else ''}.json"
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print("\n" + render(doc) + f"\n\nresults written to {out.relative_to(HERE.parent)}")
    if failed:
        sys.exit(f"failed: {', '.join(failed)} (see the error above)")


if __name__ == "__main__":
    main()

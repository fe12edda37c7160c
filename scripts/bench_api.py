"""REST API benchmark: `/v1/parse` under load on loopback, dynamic batching off and on, and model swaps.

    python scripts/bench_api.py [--model models/current] [--seconds 10] [--max-requests 20000] [--rounds 2]

Starts two `assistant serve` processes exactly as a user would (gunicorn,
config.toml's workers and threads) on 127.0.0.1, one with dynamic batching off
(`ASSISTANT_NLU_BATCH_SIZE=1`) and one with the configured batching, each with a
private model store holding two copies of the model, and drives them with wrk
(installed with apt-get when missing; one wrk thread, keep-alive connections,
bodies rotating over commands the grammar does not know, so every request
runs the model) at concurrency 1, 8 and 32. Runs alternate between the two
servers (off, on, then on, off in the next round) so that load from other
work falls on both alike; each run stops at `--seconds` or `--max-requests`.
A last run at concurrency 32 against the batching server activates the other
version twice mid-run through the API and counts failed requests.

Before the load, the request path is profiled in this process (cProfile over
Flask's test client, batching off): where the time of one request goes.

wrk and the servers share the machine's cores: the figures are what one box
serving its own clients gets, not the server alone.

Writes docs/benchmarks/api.json and the "REST API" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CANDIDATES = [
    "could you make the kitchen a bit brighter please", "i need a timer for my pasta about twenty five minutes",
    "is it going to be raining in paris tomorrow morning", "put on something jazzy in the living room",
    "kill the lights in the bedroom", "make it twenty one degrees in here", "it is way too loud turn it down a bit",
    "get rid of the timer i set", "the office is too bright dim it to forty", "will i need an umbrella later today",
    "crank up the heat in the bathroom", "what is the time right now in tokyo", "lights in the hallway off thanks",
    "i want to hear the news on the radio", "shut the garage door would you", "how warm is it outside at the moment",
    "please stop the music in the kitchen", "switch the fan in the bedroom on please",
]
"""Commands worded off the bundled templates: the grammar does not match them, the model answers (checked)."""
WRK_SCRIPT = """
local bodies = {%(bodies)s}
local i = 0
local n = 0
local limit = %(limit)d
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", "/v1/parse", {["Content-Type"] = "application/json"}, bodies[i])
end
response = function(status, headers, body)
  n = n + 1
  if n >= limit then wrk.thread:stop() end
end
"""
SERVERS = {"off": {"ASSISTANT_NLU_BATCH_SIZE": "1"}, "on": {}}
"""Batching off and on: the environment each server starts with (on: config.toml's batch size and wait)."""


def ensure_wrk() -> None:
    """wrk from Debian when it is missing (as root), else say how to get it."""
    if shutil.which("wrk"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk (apt-get)", file=sys.stderr)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env, stdout=subprocess.DEVNULL)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed and could not be: sudo apt-get install wrk")


def model_sentences(parser) -> list[str]:
    """The candidates the model answers (not the grammar) and keeps in scope: every request then runs the model."""
    kept = [t for t in CANDIDATES if (r := parser.parse(t)).source == "model" and r.in_scope]
    if len(kept) < 8:
        raise SystemExit(f"only {len(kept)} of the benchmark's commands reach this model (not its grammar, in scope): "
                         "benchmark a model of the bundled domain")
    return kept


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(models: Path, port: int, extra_env: dict) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), ASSISTANT_NLU_MODELS=str(models), ASSISTANT_SERVER_SPEECH="false", **extra_env)
    process = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from assistant.client import Client

    client = Client(f"http://127.0.0.1:{port}", timeout=2)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server exited; run `assistant serve` by hand to see why")
        try:
            if client.ready().ready:
                time.sleep(2)  # the second worker too
                return process
        except Exception:  # noqa: BLE001  not listening yet
            time.sleep(0.5)
    process.kill()
    raise SystemExit("the server did not become ready in 120 s")


def wrk(url: str, connections: int, seconds: float, limit: int, script: Path) -> dict:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "10s", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE).groups()
        return round(float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit], 2)

    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"concurrency": connections, "requests": requests, "per_second": round(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), 1),
            "p50_ms": ms("50%"), "p90_ms": ms("90%"), "p99_ms": ms("99%"),
            "failed": (int(non2xx.group(1)) if non2xx else 0) + (sum(int(x) for x in errors.groups()) if errors else 0)}


def combine(rounds: list[dict]) -> dict:
    """One concurrency's runs of one server: requests and failures summed, rates and percentiles averaged."""
    def mean(key: str) -> float:
        return round(float(np.mean([r[key] for r in rounds])), 2)

    return {"concurrency": rounds[0]["concurrency"], "requests": sum(r["requests"] for r in rounds), "per_second": round(mean("per_second"), 1),
            "p50_ms": mean("p50_ms"), "p90_ms": mean("p90_ms"), "p99_ms": mean("p99_ms"), "failed": sum(r["failed"] for r in rounds),
            "rounds": len(rounds)}


def in_process(parser, texts: list[str], n: int = 400) -> dict:
    for text in texts:
        parser.parse(text)
    times = []
    for i in range(n):
        started = time.perf_counter()
        parser.parse(texts[i % len(texts)])
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(float(np.percentile(times, 50)), 2), "p99_ms": round(float(np.percentile(times, 99)), 2)}


def graph_cost(parser, texts: list[str]) -> dict:
    """The model's part of a parse (`Parser.finish`: graph and decoding), ms per utterance, by batch size: what
    batching can save at most."""
    pending = [parser.prepare(t) for t in texts]
    costs = {}
    for size in (1, 8, 32):
        batch = (pending * (size // len(pending) + 1))[:size]
        parser.finish(batch, batch_size=size)
        n = max(20, 800 // size)
        started = time.perf_counter()
        for _ in range(n):
            parser.finish(batch, batch_size=size)
        costs[str(size)] = round((time.perf_counter() - started) * 1000 / n / size, 3)
    return costs


STAGES = [
    ("request through Flask (test client)", "werkzeug/test.py", "open"),
    ("view: parse endpoint", "endpoints/parse.py", "parse"),
    ("body read and validated (pydantic)", "server/api.py", "read_body"),
    ("Parser.prepare (words, grammar)", "nlu/runtime.py", "prepare"),
    ("Parser.finish (model and decoding)", "nlu/runtime.py", "finish"),
    ("tokenize (featurize)", "nlu/features.py", "featurize"),
    ("onnxruntime graph run", "onnxruntime_inference_collection.py", "run"),
    ("decode (Viterbi tags, scope)", "nlu/runtime.py", "decode"),
    ("result built (slot values resolved)", "nlu/runtime.py", "_result"),
    ("response JSON", "server/api.py", "json_response"),
]
"""Where one request's time goes: (label, file suffix, function) looked up in the profile's cumulative times."""


def profile_requests(models: Path, texts: list[str], n: int = 1000) -> dict:
    """cProfile of `n` requests to /v1/parse through Flask's test client in this process, batching off."""
    from assistant.config import load_settings
    from assistant.server.app import create_app

    settings = load_settings(environ={"ASSISTANT_NLU_MODELS": str(models), "ASSISTANT_SERVER_SPEECH": "false", "ASSISTANT_NLU_BATCH_SIZE": "1",
                                      "ASSISTANT_NLU_THREADS": "1"})
    client = create_app(settings).test_client()
    bodies = [{"text": t} for t in texts]
    for body in bodies:
        assert client.post("/v1/parse", json=body).status_code == 200
    started = time.perf_counter()
    for i in range(n):
        client.post("/v1/parse", json=bodies[i % len(bodies)])
    plain_ms = (time.perf_counter() - started) * 1000 / n
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(n):
        client.post("/v1/parse", json=bodies[i % len(bodies)])
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    total = max(ct for (_, _, _), (_, _, _, ct, _) in stats.items())
    stages = []
    for label, suffix, name in STAGES:
        found = [ct for (file, _, func), (_, _, _, ct, _) in stats.items() if file.endswith(suffix) and func == name]
        if found:
            stages.append({"stage": label, "ms": round(max(found) * 1000 / n, 3), "share": round(max(found) / total, 3)})
    own = sorted(((tt, f"{Path(file).name}:{func}") for (file, _, func), (_, _, tt, _, _) in stats.items()), reverse=True)[:10]
    return {"requests": n, "ms_per_request_unprofiled": round(plain_ms, 3), "ms_per_request_profiled": round(total * 1000 / n, 3), "stages": stages,
            "own_time": [{"function": f, "ms": round(tt * 1000 / n, 3), "share": round(tt / total, 3)} for tt, f in own]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "models" / "current"), help="model folder to serve (default: the store's current)")
    parser.add_argument("--seconds", type=float, default=10.0, help="longest run per concurrency and server")
    parser.add_argument("--max-requests", type=int, default=20000, help="most requests per run")
    parser.add_argument("--rounds", type=int, default=2, help="runs per concurrency and server, alternating the order")
    parser.add_argument("--json", default=str(ROOT / "docs" / "benchmarks" / "api.json"))
    parser.add_argument("--markdown", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    ensure_wrk()
    model = Path(args.model).resolve()
    if not (model / "model.onnx").is_file():
        raise SystemExit(f"{model}: not a model folder (train one: assistant train intents)")

    from assistant.client import Client
    from assistant.config import load_settings
    from assistant.nlu import store
    from assistant.nlu.runtime import Parser

    settings = load_settings()
    alone = Parser(model, threads=1)  # the in-process figures: one parser, one thread
    texts = model_sentences(alone)
    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    script = work / "post.lua"
    bodies = ", ".join(json.dumps(json.dumps({"text": t})) for t in texts)
    script.write_text(WRK_SCRIPT % {"bodies": bodies, "limit": args.max_requests})
    processes, urls, ports = {}, {}, {}
    try:
        for name, env in SERVERS.items():
            models = work / name
            models.mkdir()
            for version in ("a", "b"):
                shutil.copytree(model, models / version)
            store.point(models, "a")
            if name == "off":
                profile = profile_requests(models, texts)
                print(f"request path: {profile['ms_per_request_unprofiled']} ms/request", file=sys.stderr)
            ports[name] = free_port()
            urls[name] = f"http://127.0.0.1:{ports[name]}/v1/parse"
            processes[name] = start_server(models, ports[name], env)
        local = in_process(alone, texts)
        graph = graph_cost(alone, texts)
        print(f"in-process parse: p50 {local['p50_ms']} ms, p99 {local['p99_ms']} ms; model ms/utterance by batch size {graph}", file=sys.stderr)
        for name in SERVERS:
            wrk(urls[name], 8, 2, 1000, script)  # warm-up: every worker has parsed
        results: dict[str, dict[int, list]] = {name: {c: [] for c in (1, 8, 32)} for name in SERVERS}
        for c in (1, 8, 32):
            for i in range(args.rounds):
                for name in (list(SERVERS) if i % 2 == 0 else list(SERVERS)[::-1]):
                    results[name][c].append(wrk(urls[name], c, args.seconds, args.max_requests, script))
                    print(name, results[name][c][-1], file=sys.stderr)
        runs = {name: [combine(results[name][c]) for c in (1, 8, 32)] for name in SERVERS}
        swaps = []

        def swap() -> None:
            client = Client(f"http://127.0.0.1:{ports['on']}")
            for version in ("b", "a"):
                time.sleep(args.seconds * 2 / 3)
                started = time.perf_counter()
                client.activate(version)
                swaps.append({"version": version, "activate_ms": round((time.perf_counter() - started) * 1000, 1)})

        swapper = threading.Thread(target=swap)
        swapper.start()
        during = wrk(urls["on"], 32, args.seconds * 2, args.max_requests * 2, script)
        swapper.join()
        during["swaps"] = swaps
        print(during, file=sys.stderr)
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            process.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)

    ratios = {str(c): {"throughput": round(on["per_second"] / off["per_second"], 2), "p50": round(on["p50_ms"] / off["p50_ms"], 2),
                       "p99": round(on["p99_ms"] / off["p99_ms"], 2), "p50_added_ms": round(on["p50_ms"] - off["p50_ms"], 2)}
              for off, on in zip(runs["off"], runs["on"]) for c in [off["concurrency"]]}
    data = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}", "date": time.strftime("%Y-%m-%d"),
            "command": " ".join(["python scripts/bench_api.py", *sys.argv[1:]]), "model": model.name,
            "server": f"assistant serve: gunicorn gthread, {settings.server.workers} workers x {settings.server.threads} threads, "
                      f"one onnxruntime thread per worker, speech off",
            "batching": {"batch_size": settings.nlu.batch_size, "batch_wait_ms": settings.nlu.batch_wait_ms, "batch_runs": settings.nlu.batch_runs},
            "load": f"wrk -t1, keep-alive, {len(texts)} commands the model answers (not the grammar), rotating",
            "profile": profile, "in_process": local, "model_ms_per_utterance_by_batch": graph, "runs": runs["off"], "runs_batched": runs["on"], "batched_vs_unbatched": ratios,
            "during_swap": during}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
    write_markdown(data, Path(args.markdown))


def write_markdown(data: dict, path: Path) -> None:
    rows = "\n".join(
        f"| {off['concurrency']} | {off['per_second']} | {on['per_second']} | **{r['throughput']:.2f}x** | {off['p50_ms']} | {on['p50_ms']} | "
        f"{off['p99_ms']} | {on['p99_ms']} | {off['failed'] + on['failed']} |"
        for off, on, r in zip(data["runs"], data["runs_batched"], data["batched_vs_unbatched"].values()))
    prof = data["profile"]
    stages = "\n".join(f"| {s['stage']} | {s['ms']:.3f} | {s['share'] * 100:.0f} % |" for s in prof["stages"])
    own = ", ".join(f"`{f['function']}` {f['share'] * 100:.0f} %" for f in prof["own_time"][:6])
    d = data["during_swap"]
    b = data["batching"]
    g = data["model_ms_per_utterance_by_batch"]
    section = f"""<!-- api:begin -->
## REST API

`{data['command']}` on {data['machine']}, {data['date']}. {data['server']}; load from {data['load']}, on the same
2 cores as the servers. Two servers run side by side, dynamic batching off (`ASSISTANT_NLU_BATCH_SIZE=1`) and on
(batch size {b['batch_size']}, wait {b['batch_wait_ms']} ms, {b['batch_runs']} runs at a time), their runs alternating, {data['runs'][0]['rounds']} per
concurrency and server (rates and percentiles averaged), each bounded in time and in requests. In-process
`Parser.parse` of the same commands, one thread: p50 {data['in_process']['p50_ms']} ms, p99 {data['in_process']['p99_ms']} ms.

| concurrency | parses/s off | parses/s on | on / off | p50 ms off | p50 ms on | p99 ms off | p99 ms on | failed |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
{rows}

Without batching, every request runs the model on one utterance, so the cost per parse never falls with load.
With it, concurrent requests of a worker share one graph run (sorted by length, padded little); a lone request
waits only while others are on their way, at most the configured wait. What batching can save is bounded by
the model's own cost per utterance by batch size (`Parser.finish`, graph and decoding, one thread, same
commands): {g['1']} ms alone, {g['8']} ms in a batch of 8, {g['32']} ms in a batch of 32, so
{g['1'] / g['32']:.2f}x at most on that part; the rest of a request (HTTP, JSON, the grammar step, wrk itself) costs
the same either way.

**Where a request's time goes** (cProfile over Flask's test client in one process, batching off,
{prof['requests']} requests; {prof['ms_per_request_unprofiled']} ms a request unprofiled,
{prof['ms_per_request_profiled']} ms under the profiler; cumulative time of each stage):

| stage | ms / request (profiled) | share |
| --- | --- | --- |
{stages}

Most self time: {own}.

**During model swaps** (concurrency 32, batching on, {d['requests']} requests, the other version activated through
the API twice mid-run, activation taking {', '.join(str(s['activate_ms']) for s in d['swaps'])} ms): {d['per_second']} parses/s,
p50 {d['p50_ms']} ms, p99 {d['p99_ms']} ms, **{d['failed']} failed requests**.
<!-- api:end -->"""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if "<!-- api:begin -->" in text:
        text = re.sub(r"<!-- api:begin -->.*<!-- api:end -->", lambda _: section, text, flags=re.DOTALL)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")
    print(section)


if __name__ == "__main__":
    main()

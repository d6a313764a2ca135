"""Server overhead: what ADE itself costs per message, with a fake LLM that
answers in about a millisecond.

Starts the server the way `make run` does (embedded Postgres in a throwaway
data directory, uvicorn) plus a fake OpenAI-compatible server on loopback,
then measures over the real /v1 API. Prints one table and writes JSON.

    .venv/bin/python -m bench.server_overhead [--quick] [--out var/bench/server_overhead.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.llm_server import FakeLLMServer, reply, tool_call  # noqa: E402

TARGETS = {
    "reply_p50_ms": ("≤", 10.0),
    "edit_p50_ms": ("≤", 20.0),
    "concurrent_msgs_per_s": ("≥", 150.0),
    "concurrent_failures": ("≤", 0),
    "rss_after_load_mb": ("≤", 200.0),
    "archival_insert_p50_ms": ("≤", 5.0),
    "archival_search_p50_ms": ("≤", 5.0),
    "context_p50_ms": ("≤", 10.0),
    "history_100k_vs_10_ratio": ("≤", 1.2),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


class Server:
    def __init__(self, data_dir: str, llm_url: str) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "ADE_DATA_DIR": data_dir,
            "ADE_PORT": str(self.port),
            "ADE_ADMIN_PASSWORD": "bench-pass-123",
            "OPENAI_API_KEY": "bench",
            "OPENAI_BASE_URL": llm_url + "/v1",
            "ADE_PG_CLEANUP": "stop",
            "ADE_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("DATABASE_URL", None)
        self.env.pop("LETTA_PG_URI", None)
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(Path(self.env["ADE_DATA_DIR"]) / "server.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/v1/health/", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise SystemExit("server did not start; see server.log in the data dir")

    def api_key(self) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", "create_api_key", "admin", "--name", "bench"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip().split()[-1]

    @property
    def process(self) -> psutil.Process:
        return psutil.Process(self.proc.pid)

    def cpu_seconds(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system

    def rss_mb(self) -> float:
        return self.process.memory_info().rss / 1e6

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    parser.add_argument("--out", default=str(ROOT / "var" / "bench" / "server_overhead.json"))
    args = parser.parse_args()
    n = 40 if args.quick else 200
    results: dict[str, float] = {}

    data_dir = tempfile.mkdtemp(prefix="ade-bench-", dir="/tmp")
    with FakeLLMServer(default_turn=reply("ok")) as llm:
        server = Server(data_dir, llm.url)
        try:
            server.start()
            key = server.api_key()
            client = httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
            )
            results["rss_idle_mb"] = server.rss_mb()

            def create(name: str) -> str:
                body = {
                    "name": name,
                    "model": "openai/gpt-4o-mini",
                    "agent_type": "letta_v1_agent",
                    "memory_blocks": [
                        {"label": "human", "value": "Name: Bench"},
                        {"label": "persona", "value": "I am fast."},
                    ],
                }
                r = client.post("/v1/agents/", json=body)
                r.raise_for_status()
                return r.json()["id"]

            create_ms = [
                timed(lambda i=i: create(f"create-{i}")) for i in range(20 if args.quick else 50)
            ]
            results["create_agent_p50_ms"] = statistics.median(create_ms)
            agent = create("main")

            def send(agent_id: str, text: str = "hello") -> None:
                r = client.post(
                    f"/v1/agents/{agent_id}/messages",
                    json={"messages": [{"role": "user", "content": text}]},
                )
                r.raise_for_status()

            send(agent)  # warm-up
            cpu0 = server.cpu_seconds()
            lat = [timed(lambda: send(agent)) for _ in range(n)]
            results["reply_p50_ms"], results["reply_p95_ms"] = pct(lat, 50), pct(lat, 95)
            results["reply_cpu_ms_per_msg"] = (server.cpu_seconds() - cpu0) * 1000 / n

            edit_lat = []
            for i in range(n // 2):
                llm.script(
                    tool_call("memory_insert", {"label": "human", "new_string": f"fact {i}"}),
                    reply("ok"),
                )
                edit_lat.append(timed(lambda: send(agent)))
            results["edit_p50_ms"], results["edit_p95_ms"] = pct(edit_lat, 50), pct(edit_lat, 95)

            agents = [create(f"conc-{i}") for i in range(20)]
            per_agent = 5 if args.quick else 20
            failures = 0
            conc_lat: list[float] = []
            lock = threading.Lock()

            def worker(agent_id: str) -> None:
                nonlocal failures
                local = httpx.Client(
                    base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=120
                )
                for _ in range(per_agent):
                    t0 = time.perf_counter()
                    try:
                        r = local.post(
                            f"/v1/agents/{agent_id}/messages",
                            json={"messages": [{"role": "user", "content": "hi"}]},
                        )
                        ok = r.status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    with lock:
                        conc_lat.append((time.perf_counter() - t0) * 1000)
                        failures += 0 if ok else 1

            t0 = time.perf_counter()
            with ThreadPoolExecutor(20) as pool:
                list(pool.map(worker, agents))
            elapsed = time.perf_counter() - t0
            results["concurrent_msgs_per_s"] = len(conc_lat) / elapsed
            results["concurrent_p50_ms"], results["concurrent_p95_ms"] = (
                pct(conc_lat, 50),
                pct(conc_lat, 95),
            )
            results["concurrent_failures"] = failures
            results["rss_after_load_mb"] = server.rss_mb()

            archive_agent = create("archive")
            ins = [
                timed(
                    lambda i=i: client.post(
                        f"/v1/agents/{archive_agent}/archival-memory",
                        json={"text": f"passage {i} about topic {i % 37}"},
                    ).raise_for_status()
                )
                for i in range(1000)
            ]
            results["archival_insert_p50_ms"] = pct(ins, 50)
            search = [
                timed(
                    lambda i=i: client.get(
                        f"/v1/agents/{archive_agent}/archival-memory/search",
                        params={"query": f"topic {i % 37}"},
                    ).raise_for_status()
                )
                for i in range(n)
            ]
            results["archival_search_p50_ms"], results["archival_search_p95_ms"] = (
                pct(search, 50),
                pct(search, 95),
            )

            ctx = [
                timed(lambda: client.get(f"/v1/agents/{agent}/context").raise_for_status())
                for _ in range(n)
            ]
            results["context_p50_ms"] = pct(ctx, 50)

            results.update(history_growth(server, client, send, create, quick=args.quick))
        finally:
            server.stop()
            shutil.rmtree(data_dir, ignore_errors=True)

    report(results, Path(args.out))


def history_growth(
    server: Server, client: httpx.Client, send, create, *, quick: bool
) -> dict[str, float]:
    """Step cost with 10 vs 100,000 stored messages (recall grows, the window does not)."""
    out: dict[str, float] = {}
    samples = 20 if quick else 60
    for label, stored in (("10", 10), ("100k", 10_000 if quick else 100_000)):
        agent = create(f"history-{label}")
        if stored > 10:
            seed_messages(server, agent, stored)
        for _ in range(3):
            send(agent)
        lat = [timed(lambda a=agent: send(a)) for _ in range(samples)]
        out[f"history_{label}_p50_ms"] = pct(lat, 50)
    out["history_100k_vs_10_ratio"] = out["history_100k_p50_ms"] / out["history_10_p50_ms"]
    return out


def seed_messages(server: Server, agent_id: str, count: int) -> None:
    """Old conversation straight into recall storage with COPY (as an import would)."""
    code = f"""
import django, os, json, uuid
os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'ade.settings')
django.setup()
from django.db import connection
from django.utils import timezone
now = timezone.now()
with connection.cursor() as cur:
    with cur.copy("COPY memory_message (id, agent_id, role, kind, content, name, tool_call_id, model, otid, is_err, meta, embedding_model, created_at) FROM STDIN") as copy:
        for i in range({count}):
            text = json.dumps([{{"type": "text", "text": "old message %d about the weather" % i}}])
            copy.write_row(("message-" + str(uuid.uuid4()), {agent_id!r}, "user", "user_message", text, "", "", "", "", False, "{{}}", "", now))
    cur.execute("UPDATE memory_message SET search_vector = to_tsvector('english', content::text) WHERE agent_id = %s AND search_vector IS NULL", [{agent_id!r}])
"""
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=server.env, check=True)


def report(results: dict[str, float], out: Path) -> None:
    rows = []
    for name, value in results.items():
        target = TARGETS.get(name)
        verdict = ""
        if target:
            op, limit = target
            ok = value <= limit if op == "≤" else value >= limit
            verdict = f"{op} {limit:g}  {'PASS' if ok else 'MISS'}"
        rows.append((name, f"{value:,.2f}", verdict))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'metric'.ljust(width)}  {'value':>12}  target")
    for name, value, verdict in rows:
        print(f"{name.ljust(width)}  {value:>12}  {verdict}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()

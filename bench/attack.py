"""The attacker's benchmark: each attack class of issue 10 replayed against a 10,000-closure city over HTTP.

Loopback only and bounded: one gunicorn worker (its address space capped, so an unbounded answer fails
instead of taking the machine), a time-out per request, a fixed number of requests per attack. Prints,
per attack, the answers' status codes, median and worst latency, and the worker's RSS growth.

Run from the repository root:  python bench/attack.py   (writes bench/attack.json)
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import synthetic  # noqa: E402
from bench.run import free_port, populate, stop, wait_ready  # noqa: E402
from roadworks.auth import create_token  # noqa: E402
from roadworks.config import DEFAULTS  # noqa: E402
from roadworks.store.engine import make_engine  # noqa: E402
from roadworks.store.repository import Store  # noqa: E402

CENTRE = ((synthetic.AREA[0] + synthetic.AREA[2]) / 2, (synthetic.AREA[1] + synthetic.AREA[3]) / 2)
UNLIMITED = "100000000 per minute"


# ---------------------------------------------------------------------- the server under attack

class Server:
    """`gunicorn -w 1` on the city, with its worker's address space capped."""

    def __init__(self, url: str, memory_mb: int, extra_env: dict | None = None):
        self.port = free_port()
        env = {"ROADWORKS_DATABASE_URL": url, "ROADWORKS_RATE_LIMIT": UNLIMITED,
               "ROADWORKS_PARTNER_RATE_LIMIT": UNLIMITED, "ROADWORKS_LOG_LEVEL": "WARNING",
               "ROADWORKS_PUBLIC_URL": f"http://127.0.0.1:{self.port}/", **(extra_env or {})}
        limit = memory_mb * 1024 * 1024
        command = [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{self.port}", "--timeout", "600",
                   "--log-level", "warning", "--preload", "wsgi:app"]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env={**_environ(), **env}, stderr=subprocess.DEVNULL,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
        wait_ready(f"http://127.0.0.1:{self.port}/healthz", 600)

    def worker_rss_mb(self) -> float:
        children = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout.split()
        total = 0.0
        for pid in children:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        return round(total, 1)

    def close(self) -> None:
        stop(self.process)


def _environ() -> dict:
    import os
    return {k: v for k, v in os.environ.items() if not k.startswith("ROADWORKS_")}


def request(port: int, method: str, path: str, *, body=None, headers=None, timeout: float = 120):
    """(status, headers, body bytes, seconds); status 0 when the server gave no answer in time."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = json.dumps(body).encode() if body is not None else None
    sent = {"Content-Type": "application/json", **(headers or {})} if data is not None else dict(headers or {})
    started = time.perf_counter()
    try:
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        payload = response.read()
        return response.status, response.headers, payload, time.perf_counter() - started
    except (OSError, http.client.HTTPException):
        return 0, {}, b"", time.perf_counter() - started
    finally:
        connection.close()


# ---------------------------------------------------------------------- the attacks

def zigzag_route(vertices: int) -> dict:
    """Back and forth across the whole city: as many closures near it as a route can meet."""
    west, south, east, north = synthetic.AREA
    points = []
    for i in range(vertices):
        lat = south + (north - south) * i / max(vertices - 1, 1)
        points.append([round(west if i % 2 == 0 else east, 6), round(lat, 6)])
    return {"type": "LineString", "coordinates": points}


def worst_schedule() -> dict:
    """What an editor may save that reaches furthest: a 300-year window with 8 weekly hours entries."""
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    hours = [{"days": [days[i % 7]], "start": f"{(i * 3) % 24:02d}:00", "end": f"{(i * 3 + 2) % 24:02d}:30"}
             for i in range(7)]
    hours.append({"days": days[:5], "start": "22:00", "end": "06:00"})
    return {"windows": [{"start": "1900-01-01", "end": "2199-12-31", "label": "forever"}],
            "pauses": [{"start": f"{y}-06-01", "end": f"{y}-08-31", "reason": "tourist season"}
                       for y in range(2025, 2035)],
            "hours": hours}


def closure_body(geometry: dict, schedule: dict, road: str, direction: str = "both") -> dict:
    return {"type": "Feature", "geometry": geometry,
            "properties": {"project": synthetic.PROJECTS[0].id, "road": road, "direction": direction,
                           "impact": "closed", "schedule": schedule}}


def many_parts(parts: int) -> dict:
    rng = random.Random(5)
    lines = []
    for _ in range(parts):
        lon, lat = CENTRE[0] + rng.uniform(-0.05, 0.05), CENTRE[1] + rng.uniform(-0.05, 0.05)
        lines.append([[round(lon, 6), round(lat, 6)], [round(lon + 0.0004, 6), round(lat + 0.0003, 6)]])
    return {"type": "MultiLineString", "coordinates": lines}


def bbox(seed: int, side: float = 0.05) -> str:
    rng = random.Random(seed)
    x, y = rng.uniform(synthetic.AREA[0], synthetic.AREA[2] - side), rng.uniform(synthetic.AREA[1], synthetic.AREA[3] - side)
    return f"{x:.5f},{y:.5f},{x + side:.5f},{y + side:.5f}"


def attacks(settings: dict, editor: str, count: int):
    """(name, [(method, path, body, headers), ...]) in the order they run."""
    # The fallbacks are the limits documented before the caps were settings, so older trees can be measured.
    interval = settings.get("MAX_INTERVAL_DAYS", 1830)
    window_days = settings.get("ROUTE_MAX_WINDOW_DAYS", 31)
    route = {"route": zigzag_route(settings.get("ROUTE_MAX_VERTICES", 5000)), "buffer_m": 500,
             "from": "2025-03-01T00:00:00+08:00", "to": _plus_days("2025-03-01T00:00:00+08:00", window_days)}
    wide = f"2025-01-01T00:00:00Z/{_plus_days('2025-01-01T00:00:00+00:00', interval)}"
    auth = {"Authorization": f"Bearer {editor}"}
    yield "route check: zig-zag, widest buffer, longest window", [("POST", "/api/v1/route-check", route, {})] * 3
    yield "OGC datetime: longest closed interval", [
        ("GET", f"/ogc/collections/closures/items?datetime={quote(wide)}&limit=1", None, {})] * 3
    yield "OGC datetime: open end from 2025", [
        ("GET", "/ogc/collections/closures/items?datetime=2025-01-01T00:00:00Z/..&limit=1000", None, {})] * 3
    yield "OGC datetime: far past the cap (2025/2199)", [
        ("GET", "/ogc/collections/closures/items?datetime=2025-01-01T00:00:00Z/2199-01-01T00:00:00Z&limit=1",
         None, {})]
    yield "iCalendar: a new bbox each request", [("GET", f"/feeds/closures.ics?bbox={bbox(i, 0.3)}", None, {})
                                                 for i in range(10)]
    yield "WZDx crs=gcj02, cold", [("GET", "/feeds/wzdx.geojson?crs=gcj02", None, {})]
    yield "editor: save the furthest-reaching schedule", [
        ("POST", "/api/v1/closures", closure_body({"type": "LineString", "coordinates": [
            [CENTRE[0], CENTRE[1]], [CENTRE[0] + 0.002, CENTRE[1] + 0.001]]}, worst_schedule(), "Attack Road"),
         auth)]
    yield "after it: single GET, listing at a new `at`, Open511, route check", "AFTER_WORST"
    yield "editor: 400-part street, both directions, night hours", [
        ("POST", "/api/v1/closures", closure_body(many_parts(400), {
            "windows": [{"start": _today(-30), "end": _today(335)}],
            "hours": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "22:00", "end": "06:00"}]},
            "Amplifier Street"), auth)]
    yield "WZDx after it (whole city)", [("GET", "/feeds/wzdx.geojson", None, {})]
    yield f"{count} distinct anonymous queries", [
        ("GET", _distinct(i), None, {"Accept-Encoding": ("gzip", "gzip, deflate", "br;q=0.5, gzip")[i % 3]})
        for i in range(count)]
    yield "oversized query string", [("GET", "/api/v1/closures?road=" + "x" * (settings.get("MAX_QUERY_BYTES", 4096) + 1),
                                      None, {})]
    yield "/changes cursor naming the year 1", [("GET", "/api/v1/changes?since=" + _year_one_cursor(), None, {})]


def _distinct(i: int) -> str:
    kinds = (f"/api/v1/closures?limit={1 + i % 1000}&status=all",
             f"/api/v1/closures?bbox={bbox(i)}&status=all",
             f"/feeds/waze.json?bbox={bbox(i, 0.08)}",
             f"/ogc/collections/closures/items?bbox={bbox(i)}&limit={1 + i % 500}",
             f"/api/v1/closures?at=2025-0{1 + i % 9}-{1 + i % 28:02d}T{i % 24:02d}:00:00%2B08:00&limit=100")
    return kinds[i % len(kinds)]


def _today(days: int) -> str:
    """A date this many days from today: the amplifier must fall inside the feeds' rolling horizon."""
    from datetime import date, timedelta
    return (date.today() + timedelta(days=days)).isoformat()


def _year_one_cursor() -> str:
    import base64
    return base64.urlsafe_b64encode(json.dumps({"s": 1, "t": "0001-01-01T00:00:00+00:00"}).encode()).decode().rstrip("=")


def _plus_days(instant: str, days: int) -> str:
    from datetime import timedelta
    return (datetime.fromisoformat(instant) + timedelta(days=days)).isoformat()


def after_worst(closure_id: str | None):
    base = [("GET", "/api/v1/closures?at=2031-07-04T03:00:00%2B08:00&status=all&limit=1000", None, {}),
            ("GET", "/open511/events?format=json&limit=500", None, {}),
            ("POST", "/api/v1/route-check", {"route": {"type": "LineString", "coordinates": [
                [CENTRE[0] - 0.001, CENTRE[1]], [CENTRE[0] + 0.003, CENTRE[1] + 0.001]]}, "buffer_m": 100,
                "from": "2030-01-01T00:00:00+08:00", "to": "2030-01-31T00:00:00+08:00"}, {})]
    if closure_id:
        base.insert(0, ("GET", f"/api/v1/closures/{closure_id}", None, {}))
    return base


# ---------------------------------------------------------------------- running them

def run_attack(server: Server, name: str, calls: list, timeout: float) -> dict:
    before = server.worker_rss_mb()
    statuses: dict[int, int] = {}
    seconds, created = [], None
    for method, path, body, headers in calls:
        status, got, payload, took = request(server.port, method, path, body=body, headers=headers, timeout=timeout)
        statuses[status] = statuses.get(status, 0) + 1
        seconds.append(took)
        if status == 201:
            created = json.loads(payload).get("id")
    figures = {"attack": name, "requests": len(calls), "statuses": statuses,
               "p50_ms": round(statistics.median(seconds) * 1000, 1), "max_ms": round(max(seconds) * 1000, 1),
               "rss_growth_mb": round(server.worker_rss_mb() - before, 1), "rss_after_mb": server.worker_rss_mb()}
    print(f"{name:62} {json.dumps(statuses):18} p50 {figures['p50_ms']:>9} ms  max {figures['max_ms']:>9} ms  "
          f"RSS +{figures['rss_growth_mb']:>7} MB (now {figures['rss_after_mb']} MB)", flush=True)
    figures["created"] = created
    return figures


class StalledRedis:
    """A TCP server that accepts connections and reads, but never answers: a hung Redis."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self) -> None:
        self.sock.close()
        for connection in self.held:
            connection.close()


def redis_latency(url: str, memory_mb: int, requests: int) -> dict:
    """p50 of repeated anonymous GETs with Redis up, then with a Redis that never answers."""
    path = f"/api/v1/closures?bbox={bbox(1)}"
    out = {}
    stalled = StalledRedis()
    try:
        for label, redis_url in (("redis_up", "redis://127.0.0.1:6379/14"),
                                 ("redis_stalled", f"redis://127.0.0.1:{stalled.port}/0")):
            server = Server(url, memory_mb, {"ROADWORKS_REDIS_URL": redis_url})
            try:
                times = [request(server.port, "GET", path)[3] for _ in range(requests)]
            finally:
                server.close()
            out[label + "_p50_ms"] = round(statistics.median(times) * 1000, 2)
            print(f"{label:62} p50 {out[label + '_p50_ms']} ms over {requests} GETs", flush=True)
    finally:
        stalled.close()
    out["stalled_minus_up_ms"] = round(out["redis_stalled_p50_ms"] - out["redis_up_p50_ms"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--closures", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=10_000, help="distinct anonymous queries")
    parser.add_argument("--memory-mb", type=int, default=6000, help="the worker's address-space cap")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per request")
    parser.add_argument("--out", default=str(ROOT / "bench" / "attack.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'attack.sqlite3'}"
        populate(url, args.closures)
        editor, _ = create_token(Store(make_engine(url)), role="editor", name="attacker",
                                 agency=synthetic.PROJECTS[0].agency, now=datetime.now(timezone.utc))
        server = Server(url, args.memory_mb)
        results = [{"attack": "start", "rss_after_mb": server.worker_rss_mb()}]
        print(f"worker RSS at start: {results[0]['rss_after_mb']} MB with {args.closures} closures", flush=True)
        try:
            created = None
            for name, calls in attacks(DEFAULTS, editor, args.queries):
                if calls == "AFTER_WORST":
                    calls = after_worst(created)
                figures = run_attack(server, name, calls, args.timeout)
                created = figures.pop("created") or created
                results.append(figures)
        finally:
            server.close()
        redis = redis_latency(url, args.memory_mb, 200)
    Path(args.out).write_text(json.dumps({"closures": args.closures, "attacks": results, "redis": redis}, indent=1))


if __name__ == "__main__":
    main()

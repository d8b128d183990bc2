"""The benchmark: in-process query latency and HTTP throughput at 1k, 10k and 100k closures, as ratios.

Run from the repository root:  python bench/run.py   (writes bench/results.json and prints a table)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

from shapely.geometry import box

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import synthetic  # noqa: E402
from roadworks.documents import project_doc  # noqa: E402
from roadworks.domain import geometry  # noqa: E402
from roadworks.api.routecheck import RouteQuery, affecting  # noqa: E402
from roadworks.auth import ANONYMOUS  # noqa: E402
from roadworks.domain.route import RouteProbe  # noqa: E402
from roadworks.index import Base, Snapshot, make_entry  # noqa: E402
from roadworks.store.engine import make_engine, migrate  # noqa: E402
from roadworks.store.tables import closures as closures_table, counters, projects as projects_table  # noqa: E402

AT = datetime(2025, 3, 1, 12, tzinfo=timezone(timedelta(hours=8)))
WANTED = {"active", "paused", "upcoming"}


# ---------------------------------------------------------------------- in process

def build_snapshot(n: int) -> tuple[Snapshot, float]:
    projects = {p.id: p for p in synthetic.PROJECTS}
    started = time.perf_counter()
    entries = {c.id: make_entry(c, projects[c.project]) for c in synthetic.closures(n)}
    snapshot = Snapshot(1, Base.build(entries), {}, projects, None)
    return snapshot, time.perf_counter() - started


def box_side_for(snapshot: Snapshot, hits: int = 100) -> float:
    """The side (degrees) of a square box that meets about `hits` closures at the area's centre."""
    lo, hi = 0.0005, 0.5
    cx, cy = (synthetic.AREA[0] + synthetic.AREA[2]) / 2, (synthetic.AREA[1] + synthetic.AREA[3]) / 2
    for _ in range(30):
        side = (lo + hi) / 2
        found = len(snapshot.select(area=box(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)))
        lo, hi = (side, hi) if found < hits else (lo, side)
    return (lo + hi) / 2


def boxes(side: float, count: int = 50, seed: int = 3) -> list:
    rng = random.Random(seed)
    a = synthetic.AREA
    out = []
    for _ in range(count):
        x = rng.uniform(a[0] + 0.05, a[2] - 0.05 - side)
        y = rng.uniform(a[1] + 0.05, a[3] - 0.05 - side)
        out.append(box(x, y, x + side, y + side))
    return out


def timed(function, inputs: list, repeat: int) -> list[float]:
    """Milliseconds per call, cycling through `inputs`."""
    samples = []
    for i in range(repeat):
        started = time.perf_counter()
        function(inputs[i % len(inputs)])
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"median_ms": round(statistics.median(ordered), 4),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 4), "runs": len(ordered)}


def in_process(n: int) -> dict:
    snapshot, build_s = build_snapshot(n)
    side = box_side_for(snapshot)
    areas = boxes(side)
    for area in areas:  # statuses are cached per closure while valid, as in a serving process
        [e.status(AT) for e in snapshot.select(area=area)]
    hits = statistics.mean(len(snapshot.select(area=a)) for a in areas)

    def indexed(area):
        return [e for e in snapshot.select(area=area) if e.status(AT)[0] in WANTED]

    def scan(area):
        return [e for e in snapshot.base.order if e.shape.intersects(area) and e.status(AT)[0] in WANTED]

    def floor(area):
        return snapshot.base.tree.query(area)

    result = {"closures": n, "build_s": round(build_s, 2), "box_side_deg": round(side, 5),
              "mean_hits": round(hits, 1),
              "bbox_index": summary(timed(indexed, areas, 300)),
              "bbox_scan": summary(timed(scan, areas, max(5, min(300, 2_000_000 // n)))),
              "bbox_floor": summary(timed(floor, areas, 300))}
    result["bbox_scan_over_index"] = round(result["bbox_scan"]["median_ms"] / result["bbox_index"]["median_ms"], 1)
    result["bbox_index_over_floor"] = round(result["bbox_index"]["median_ms"] / result["bbox_floor"]["median_ms"], 1)
    result.update(route_figures(snapshot))
    return result


def route_figures(snapshot: Snapshot) -> dict:
    """Route check (200 vertices, 15 km, 25 m buffer, 2 h window) as the endpoint does it, beside a full
    scan (every closure through the same exact test) and the index query alone (the floor)."""
    routes = [route_line(seed) for seed in range(20)]
    window = RouteQuery(routes[0], 25, AT, AT + timedelta(hours=2))

    def check(route, everything: bool = False):
        probe = RouteProbe(route, 25)
        source = ScanAll(snapshot) if everything else snapshot
        return affecting(source, probe, window, ANONYMOUS, AT)

    def floor(route):
        return snapshot.base.tree.query(RouteProbe(route, 25).zones)

    out = {"route_index": summary(timed(check, routes, 100)),
           "route_scan": summary(timed(lambda r: check(r, True), routes, max(3, min(50, 200_000 // len(snapshot.base.order))))),
           "route_floor": summary(timed(floor, routes, 100)),
           "route_hits": round(statistics.mean(len(check(r)) for r in routes[:5]), 1)}
    out["route_scan_over_index"] = round(out["route_scan"]["median_ms"] / out["route_index"]["median_ms"], 1)
    out["route_index_over_floor"] = round(out["route_index"]["median_ms"] / out["route_floor"]["median_ms"], 1)
    return out


class ScanAll:
    """A snapshot stand-in whose 'index' returns every closure: the full-scan baseline."""

    def __init__(self, snapshot: Snapshot):
        self.entries = snapshot.base.order
        self.bound = len(self.entries)

    def candidates_near(self, areas) -> list:
        return self.entries


def route_line(seed: int) -> dict:
    """A 200-vertex route of about 15 km across the area."""
    rng = random.Random(100 + seed)
    lon, lat = rng.uniform(101.65, 101.75), rng.uniform(36.55, 36.70)
    heading = rng.uniform(60, 120)
    points = [[lon, lat]]
    for _ in range(199):
        heading += rng.uniform(-8, 8)
        lon, lat, _ = synthetic.GEOD.fwd(lon, lat, heading, 15000 / 199)
        points.append([round(lon, 7), round(lat, 7)])
    return {"type": "LineString", "coordinates": points}


# ---------------------------------------------------------------------- over HTTP

def populate(url: str, n: int) -> None:
    """Write the synthetic set straight into a migrated database (the registry would take minutes)."""
    engine = make_engine(url)
    migrate(engine)
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(projects_table.insert(), [
            {"id": p.id, "agency": p.agency, "doc": project_doc(p), "version": 1, "seq": i + 1,
             "created_at": now, "updated_at": now} for i, p in enumerate(synthetic.PROJECTS)])
        rows = []
        for i, doc in enumerate(synthetic.documents(n)):
            min_lon, min_lat, max_lon, max_lat = geometry.bounds(doc["geometry"])
            rows.append({"id": doc["id"], "project_id": doc["properties"]["project"], "doc": doc,
                         "road": doc["properties"]["road"], "min_lon": min_lon, "min_lat": min_lat,
                         "max_lon": max_lon, "max_lat": max_lat, "length_m": geometry.length_m(doc["geometry"]),
                         "version": 1, "seq": len(synthetic.PROJECTS) + i + 1, "created_at": now, "updated_at": now})
            if len(rows) == 5000:
                conn.execute(closures_table.insert(), rows)
                rows = []
        if rows:
            conn.execute(closures_table.insert(), rows)
        conn.execute(counters.update().values(value=len(synthetic.PROJECTS) + n))
    engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(app: str, port: int, env: dict, cwd: Path, workers: int = 2,
                   python: str = sys.executable) -> subprocess.Popen:
    command = [python, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", "--timeout", "300",
               "--log-level", "warning", "--preload", app]
    return subprocess.Popen(command, cwd=cwd, env={**os.environ, **env})


def wait_ready(url: str, seconds: float = 300) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer in {seconds} s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


def worker_memory_mb(master: int, field: str) -> list[float]:
    """`Rss` (every resident page, shared ones included) or `Pss` (shared pages divided among sharers)."""
    children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    sizes = []
    for pid in children:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        kb = int(next(line for line in rollup.splitlines() if line.startswith(f"{field}:")).split()[1])
        sizes.append(round(kb / 1024, 1))
    return sizes


def hammer(args: tuple) -> int:
    """One load process: sequential GETs for `seconds`; returns how many completed as expected."""
    port, path, etag, seconds, expected = args
    import http.client

    done, deadline = 0, time.time() + seconds
    headers = {"If-None-Match": etag} if etag else {}
    while time.time() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        connection.close()
        done += response.status == expected
    return done


def interleaved(cases: dict[str, tuple], seconds: float, rounds: int = 5, measure=None) -> dict[str, float]:
    """Requests/s of each case, measured in turns of seconds/rounds each, so that a neighbour's burst on this
    shared machine slows every case alike instead of the one that happened to be running."""
    measure = measure or rate
    done = dict.fromkeys(cases, 0.0)
    for _ in range(rounds):
        for name, (port, path, etag, expected) in cases.items():
            done[name] += measure(port, path, etag, seconds / rounds, expected) * seconds / rounds
    return {name: round(count / seconds, 1) for name, count in done.items()}


WRK = shutil.which("wrk")


def rate_wrk(port: int, path: str, etag: str | None, seconds: float, expected: int, connections: int = 4) -> float:
    """Requests/s from wrk (Debian's `wrk`): a load generator in C, so the client's own header parsing, which
    costs Python's http.client about 15 µs a line on the same 2 cores, is not charged to the server. gunicorn's
    sync workers close each connection, so this too is a new connection per request."""
    headers = ["-H", f"If-None-Match: {etag}"] if etag else []
    out = subprocess.run([WRK, "-t", "2", "-c", str(connections), "-d", f"{max(1, round(seconds))}s", *headers,
                          f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True).stdout
    if "Non-2xx or 3xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw failed requests on {path}:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def expect_status(port: int, path: str, etag: str | None, expected: int) -> None:
    """wrk counts answers, not statuses: check once that this case answers `expected` (200, or 304 to `etag`)."""
    status, _ = probe(port, path, etag)
    if status != expected:
        raise RuntimeError(f"{path} on port {port} answered {status}, not {expected}")


def rate(port: int, path: str, etag: str | None, seconds: float, expected: int, clients: int = 4) -> float:
    with ProcessPoolExecutor(clients) as pool:
        total = sum(pool.map(hammer, [(port, path, etag, seconds, expected)] * clients))
    return round(total / seconds, 1)


MINIMAL_APP = textwrap.dedent('''
    """The baseline: a bare Flask app that answers with the same bytes and ETag, or 304. With BENCH_HEADERS (a JSON
    file of our 200's and 304's headers) it sends those headers too, so that only our work differs, not the size
    of the answer a client reads."""
    import json, os
    from flask import Flask, Response, request

    BODY = open(os.environ["BENCH_BODY"], "rb").read()
    ETAG = os.environ["BENCH_ETAG"]
    KEPT = json.load(open(os.environ["BENCH_HEADERS"])) if os.environ.get("BENCH_HEADERS") else None
    HEADERS = KEPT or {"200": [["ETag", ETAG]], "304": [["ETag", ETAG]]}
    app = Flask(__name__)

    @app.get("/api/v1/closures")
    def closures():
        if request.headers.get("If-None-Match") == ETAG:
            return Response(status=304, headers=HEADERS["304"])
        return Response(BODY, mimetype=None if KEPT else "application/geo+json", headers=HEADERS["200"])
''')

# Written by the server for each connection, not by the app: left to the baseline's own server.
HOP_BY_HOP = {"date", "server", "connection", "content-length", "transfer-encoding", "keep-alive"}


def probe(port: int, path: str, etag: str | None) -> tuple[int, list[tuple[str, str]]]:
    """One GET of `path` (with If-None-Match: `etag`): its status and headers."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path, headers={"If-None-Match": etag} if etag else {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status, response.getheaders()


def answer_headers(port: int, path: str, etag: str | None) -> list[list[str]]:
    """The headers our app sends for `path` (a 304 with `etag`), without the per-connection ones."""
    return [[name, value] for name, value in probe(port, path, etag)[1] if name.lower() not in HOP_BY_HOP]


def over_http(n: int, seconds: float, side: float) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        url = f"sqlite:///{work / 'bench.sqlite3'}"
        populate(url, n)
        cx, cy = (synthetic.AREA[0] + synthetic.AREA[2]) / 2, (synthetic.AREA[1] + synthetic.AREA[3]) / 2
        bbox = f"{cx - side / 2:.6f},{cy - side / 2:.6f},{cx + side / 2:.6f},{cy + side / 2:.6f}"
        path = f"/api/v1/closures?bbox={bbox}&status=all"
        ours_port, base_port, same_port = free_port(), free_port(), free_port()
        env = {"ROADWORKS_DATABASE_URL": url, "ROADWORKS_RATE_LIMIT": "100000000 per minute",
               "ROADWORKS_PARTNER_RATE_LIMIT": "100000000 per minute"}
        ours = start_gunicorn("wsgi:app", ours_port, env, ROOT)
        try:
            for _ in range(6):  # both workers build their snapshot before timing starts
                wait_ready(f"http://127.0.0.1:{ours_port}{path}")
            with urllib.request.urlopen(f"http://127.0.0.1:{ours_port}{path}") as response:
                body, etag = response.read(), response.headers["ETag"]
            (work / "body").write_bytes(body)
            (work / "minimal.py").write_text(MINIMAL_APP)
            kept = {"200": answer_headers(ours_port, path, None), "304": answer_headers(ours_port, path, etag)}
            (work / "headers.json").write_text(json.dumps(kept))
            base_env = {"BENCH_BODY": str(work / "body"), "BENCH_ETAG": etag}
            base = start_gunicorn("minimal:app", base_port, base_env, work)
            same = start_gunicorn("minimal:app", same_port, {**base_env, "BENCH_HEADERS": str(work / "headers.json")},
                                  work)
            try:
                wait_ready(f"http://127.0.0.1:{base_port}{path}")
                wait_ready(f"http://127.0.0.1:{same_port}{path}")
                cases = {"ours_200_rps": (ours_port, path, None, 200),
                         "minimal_200_rps": (base_port, path, None, 200),
                         "same_headers_200_rps": (same_port, path, None, 200),
                         "ours_304_rps": (ours_port, path, etag, 304),
                         "minimal_304_rps": (base_port, path, etag, 304),
                         "same_headers_304_rps": (same_port, path, etag, 304)}
                for port, case_path, case_etag, expected in cases.values():
                    expect_status(port, case_path, case_etag, expected)
                # The headline figures come from wrk where it is installed; Python's client is kept beside them.
                figures = {"python_client": with_ratios(interleaved(cases, seconds))}
                if WRK:
                    figures.update(with_ratios(interleaved(cases, seconds, measure=rate_wrk)), client="wrk")
                else:
                    figures.update(figures["python_client"], client="python http.client")
            finally:
                stop(base)
                stop(same)
            figures["worker_rss_mb"] = worker_memory_mb(ours.pid, "Rss")
            figures["worker_pss_mb"] = worker_memory_mb(ours.pid, "Pss")
        finally:
            stop(ours)
    figures["header_bytes"] = {status: sum(len(n) + len(v) + 4 for n, v in kept[status]) for status in kept}
    figures["body_bytes"] = len(body)
    return figures


def with_ratios(rps: dict[str, float]) -> dict:
    """Requests/s of each case, and ours over each baseline's."""
    out = dict(rps)
    for status in ("200", "304"):
        out[f"ratio_{status}"] = round(rps[f"ours_{status}_rps"] / rps[f"minimal_{status}_rps"], 2)
        out[f"ratio_{status}_same_headers"] = round(rps[f"ours_{status}_rps"] / rps[f"same_headers_{status}_rps"], 2)
    return out


# ---------------------------------------------------------------------- report

def table(results: list[dict]) -> str:
    rows = ["| closures | bbox median / p95 ms | scan ÷ index | index ÷ floor | route median / p95 ms "
            "| scan ÷ index | index ÷ floor | HTTP 200 ratio (same headers) | HTTP 304 ratio (same headers) "
            "| 200 / 304 ratio, Python client | worker RSS MB |",
            "| ---: | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        http = r.get("http", {})
        route = (f"{r['route_index']['median_ms']:.2f} / {r['route_index']['p95_ms']:.2f}"
                 if "route_index" in r else "-")
        rows.append(
            f"| {r['closures']:,} | {r['bbox_index']['median_ms']:.3f} / {r['bbox_index']['p95_ms']:.3f} "
            f"| {r['bbox_scan_over_index']} | {r['bbox_index_over_floor']} | {route} "
            f"| {r.get('route_scan_over_index', '-')} | {r.get('route_index_over_floor', '-')} "
            f"| {http.get('ratio_200', '-')} ({http.get('ratio_200_same_headers', '-')}) "
            f"| {http.get('ratio_304', '-')} ({http.get('ratio_304_same_headers', '-')}) "
            f"| {http.get('python_client', {}).get('ratio_200', '-')} / {http.get('python_client', {}).get('ratio_304', '-')} "
            f"| {max(http['worker_rss_mb']) if http.get('worker_rss_mb') else '-'} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each HTTP measurement")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results.json"))
    options = parser.parse_args()
    results = []
    for n in (int(s) for s in options.sizes.split(",")):
        print(f"-- {n:,} closures: in process", flush=True)
        result = in_process(n)
        if not options.skip_http:
            print(f"-- {n:,} closures: over HTTP (gunicorn, 2 workers)", flush=True)
            result["http"] = over_http(n, options.seconds, result["box_side_deg"])
        results.append(result)
        print(json.dumps(result, indent=1), flush=True)
    report = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "python": platform.python_version(),
              "cpus": os.cpu_count(), "results": results}
    Path(options.output).write_text(json.dumps(report, indent=1) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()

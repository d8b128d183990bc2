"""Side by side with pygeoapi on SpatiaLite: the same 10,000 lines over OGC API - Features, one worker each.

Run from the repository root:  python bench/peer.py   (writes bench/peer.json and prints two tables)

pygeoapi lives in its own virtualenv (made here if missing, never among the project's dependencies). Its
SQLite provider needs `sqlite3.Connection.enable_load_extension`, which the pyenv Python lacks, so that
virtualenv is made from Debian's Python, and SpatiaLite comes from `apt-get install libsqlite3-mod-spatialite`.
Every request opens a new TCP connection; the two servers take turns (A B B A ...) so that drift in the shared
machine falls on both. Also measured: Roadworks' 304 (If-None-Match) against its 200 on each public GET.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from shapely.geometry import box

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import run, synthetic  # noqa: E402

N = 10_000
PEER_VENV = Path(os.environ.get("ROADWORKS_PEER_VENV", "/work/peer-venv"))
# Debian's Python: built with loadable SQLite extensions, unlike the pyenv one.
BASE_PYTHON = os.environ.get("ROADWORKS_PEER_PYTHON", "/usr/bin/python3")
ACCEPT = {"Accept": "application/geo+json"}
CAN_LOAD_SPATIALITE = ("import sqlite3; c = sqlite3.connect(':memory:'); c.enable_load_extension(True); "
                       "c.load_extension('mod_spatialite')")
PEER_VERSIONS = ("import json, sqlite3, importlib.metadata as m; c = sqlite3.connect(':memory:'); "
                 "c.enable_load_extension(True); c.load_extension('mod_spatialite'); "
                 "print(json.dumps({**{n: m.version(n) for n in ('pygeoapi', 'gunicorn', 'Flask', 'shapely')}, "
                 "'spatialite': c.execute('SELECT spatialite_version()').fetchone()[0], "
                 "'sqlite': sqlite3.sqlite_version}))")

# Run by pygeoapi's Python (which has SpatiaLite and PyYAML): the table, its spatial index and the config.
PEER_SETUP = textwrap.dedent('''
    """pygeoapi's side: the lines into a SpatiaLite table with a spatial index, and a config publishing it."""
    import json
    import sqlite3
    import sys

    import yaml

    lines, database, config, port, west, south, east, north = sys.argv[1:]
    db = sqlite3.connect(database)
    db.enable_load_extension(True)
    db.load_extension("mod_spatialite")
    db.execute("SELECT InitSpatialMetadata(1)")
    db.execute("CREATE TABLE closures (id TEXT PRIMARY KEY, project TEXT, road TEXT, impact TEXT)")
    db.execute("SELECT AddGeometryColumn('closures', 'geom', 4326, 'LINESTRING', 'XY')")
    with open(lines) as source:
        rows = [json.loads(line) for line in source]
    db.executemany("INSERT INTO closures (id, project, road, impact, geom) "
                   "VALUES (?, ?, ?, ?, SetSRID(GeomFromGeoJSON(?), 4326))",
                   [(r["id"], r["project"], r["road"], r["impact"], json.dumps(r["geometry"])) for r in rows])
    db.execute("SELECT CreateSpatialIndex('closures', 'geom')")
    db.commit()
    stored = db.execute("SELECT count(*) FROM closures WHERE geom IS NOT NULL").fetchone()[0]
    assert stored == len(rows), f"{stored} geometries stored of {len(rows)}"
    db.close()

    url = f"http://127.0.0.1:{port}"
    settings = {
        "server": {"bind": {"host": "127.0.0.1", "port": int(port)}, "url": url,
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "language": "en-US",
                   "gzip": False, "pretty_print": False, "cors": False,
                   "limits": {"default_items": 10, "max_items": 1000},
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"}},
        # ERROR, not WARNING: pygeoapi warns on every items request that has no `offset`.
        "logging": {"level": "ERROR"},
        "metadata": {"identification": {"title": "peer", "description": "benchmark peer", "keywords": ["bench"],
                                        "url": url, "terms_of_service": url},
                     "license": {"name": "CC-BY 4.0", "url": url}, "provider": {"name": "bench", "url": url},
                     "contact": {"name": "bench", "url": url}},
        "resources": {"closures": {
            "type": "collection", "title": "Road closures", "description": "The benchmark's lines",
            "keywords": ["closures"], "links": [],
            "extents": {"spatial": {"bbox": [float(west), float(south), float(east), float(north)],
                                    "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "providers": [{"type": "feature", "name": "SQLiteGPKG", "data": database, "id_field": "id",
                           "table": "closures"}]}},
    }
    with open(config, "w") as out:
        yaml.safe_dump(settings, out, sort_keys=False)
''')


# ---------------------------------------------------------------------- pygeoapi's virtualenv

def check_spatialite(python: str) -> None:
    if not Path(python).exists():
        sys.exit(f"peer.py: {python} not found; pygeoapi's virtualenv needs a Python that can load SQLite "
                 "extensions (Debian's python3), set ROADWORKS_PEER_PYTHON to one")
    if subprocess.run([python, "-c", CAN_LOAD_SPATIALITE], capture_output=True).returncode != 0:
        sys.exit(f"peer.py: SpatiaLite is missing (or {python} cannot load SQLite extensions).\n"
                 "Install it with:  apt-get install libsqlite3-mod-spatialite")


def ensure_peer_venv() -> str:
    """pygeoapi's own virtualenv, made on first use; returns its Python."""
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        check_spatialite(BASE_PYTHON)
        print(f"-- making pygeoapi's virtualenv at {PEER_VENV}", flush=True)
        subprocess.run([BASE_PYTHON, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "pygeoapi", "gunicorn"], check=True)
    check_spatialite(str(python))
    return str(python)


def peer_versions(python: str) -> dict:
    return json.loads(subprocess.run([python, "-c", PEER_VERSIONS], capture_output=True, text=True,
                                     check=True).stdout)


# ---------------------------------------------------------------------- the two servers

def write_lines(path: Path) -> None:
    """The same closures the Roadworks database holds: id, geometry and a few properties, one JSON a line."""
    with path.open("w") as out:
        for c in synthetic.closures(N):
            out.write(json.dumps({"id": c.id, "geometry": c.geometry, "project": c.project, "road": c.road,
                                  "impact": c.impact}) + "\n")


def start_roadworks(work: Path) -> tuple[subprocess.Popen, int]:
    url = f"sqlite:///{work / 'roadworks.sqlite3'}"
    run.populate(url, N)
    port = run.free_port()
    env = {"ROADWORKS_DATABASE_URL": url, "ROADWORKS_RATE_LIMIT": "100000000 per minute",
           "ROADWORKS_PARTNER_RATE_LIMIT": "100000000 per minute",
           "ROADWORKS_LOG_LEVEL": "WARNING"}  # as pygeoapi's: neither server logs each request
    return run.start_gunicorn("wsgi:app", port, env, ROOT, workers=1), port


def start_pygeoapi(work: Path, python: str) -> tuple[subprocess.Popen, int]:
    lines, database, config, openapi = (work / name for name in
                                        ("lines.jsonl", "peer.sqlite", "pygeoapi.yml", "openapi.yml"))
    write_lines(lines)
    (work / "peer_setup.py").write_text(PEER_SETUP)
    port = run.free_port()
    subprocess.run([python, str(work / "peer_setup.py"), str(lines), str(database), str(config), str(port),
                    *map(str, synthetic.AREA)], check=True)
    env = {"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    subprocess.run([str(Path(python).parent / "pygeoapi"), "openapi", "generate", str(config),
                    "--output-file", str(openapi)], check=True, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    return run.start_gunicorn("pygeoapi.flask_app:APP", port, env, work, workers=1, python=python), port


# ---------------------------------------------------------------------- measuring

def get(port: int, path: str, headers: dict | None = None) -> tuple[float, int, bytes, http.client.HTTPResponse]:
    """One GET on a new connection: milliseconds, status, body, response."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return (time.perf_counter() - started) * 1000, response.status, body, response


@dataclass
class Side:
    """One stream of requests: the i-th request asks for `path(i)` and must answer `expected`."""
    name: str
    port: int
    path: Callable[[int], str]
    headers: dict
    expected: int
    samples: list = field(default_factory=list)
    busy: float = 0.0

    def turn(self, seconds: float) -> None:
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            path = self.path(len(self.samples))
            ms, status, _, _ = get(self.port, path, self.headers)
            if status != self.expected:
                raise RuntimeError(f"{self.name}: {path} answered {status}, not {self.expected}")
            self.samples.append(ms)
        self.busy += time.perf_counter() - started

    def figures(self) -> dict:
        return {**run.summary(self.samples), "rps": round(len(self.samples) / self.busy, 1)}


def interleaved(a: Side, b: Side, seconds: float, rounds: int) -> dict:
    """`seconds` of requests for each side, in turns A B B A A B ..., so both see the same machine."""
    for r in range(rounds):
        for side in (a, b) if r % 2 == 0 else (b, a):
            side.turn(seconds / rounds)
    return {a.name: a.figures(), b.name: b.figures()}


def bbox_text(area) -> str:
    return ",".join(f"{v:.6f}" for v in area.bounds)


def centred(side: float):
    cx, cy = (synthetic.AREA[0] + synthetic.AREA[2]) / 2, (synthetic.AREA[1] + synthetic.AREA[3]) / 2
    return box(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def ours_items(bbox: str, limit: int) -> str:
    return f"/ogc/collections/closures/items?bbox={bbox}&limit={limit}"


def peer_items(bbox: str, limit: int) -> str:
    return f"/collections/closures/items?bbox={bbox}&limit={limit}"


def agreement(ours: int, peer: int, bbox: str, limit: int) -> dict:
    """Both answers to one query: feature counts, whether the ids agree, body sizes (no compression)."""
    found = {}
    for name, port, path in (("roadworks", ours, ours_items(bbox, limit)), ("pygeoapi", peer, peer_items(bbox, limit))):
        _, status, body, _ = get(port, path, ACCEPT)
        if status != 200:
            raise RuntimeError(f"{name}: {path} answered {status}: {body[:300]!r}")
        found[name] = (sorted(f["id"] for f in json.loads(body)["features"]), len(body))
    (ours_ids, ours_bytes), (peer_ids, peer_bytes) = found["roadworks"], found["pygeoapi"]
    # A full page may hold different members of a larger match: then only the counts can agree.
    same = ours_ids == peer_ids if len(ours_ids) < limit else len(ours_ids) == len(peer_ids)
    if not same:
        print(f"   WARNING: answers differ for bbox {bbox}: Roadworks {len(ours_ids)}, pygeoapi {len(peer_ids)}")
    return {"roadworks_features": len(ours_ids), "pygeoapi_features": len(peer_ids), "agree": same,
            "roadworks_bytes": ours_bytes, "pygeoapi_bytes": peer_bytes}


def versus(ours: int, peer: int, seconds: float, rounds: int, sides: dict) -> list[dict]:
    """The three queries, each timed on both servers in turns."""
    boxes_100 = [bbox_text(a) for a in run.boxes(sides[100], count=max(3000, int(seconds * 1500)), seed=5)]
    middle_100, middle_1000 = bbox_text(centred(sides[100])), bbox_text(centred(sides[1000]))
    queries = [("same bbox, ~100 features, limit=100", lambda i: middle_100, 100, [middle_100]),
               ("new bbox each request, ~100 features, limit=100", lambda i: boxes_100[i % len(boxes_100)], 100,
                [bbox_text(a) for a in run.boxes(sides[100], count=5, seed=11)]),
               ("same bbox, ~1,000 features, limit=1000", lambda i: middle_1000, 1000, [middle_1000])]
    out = []
    for title, bbox_of, limit, checks in queries:
        print(f"-- {title}", flush=True)
        checked = [agreement(ours, peer, bbox, limit) for bbox in checks]
        a = Side("roadworks", ours, lambda i, f=bbox_of, n=limit: ours_items(f(i), n), ACCEPT, 200)
        b = Side("pygeoapi", peer, lambda i, f=bbox_of, n=limit: peer_items(f(i), n), ACCEPT, 200)
        figures = interleaved(a, b, seconds, rounds)
        figures["ratio_rps"] = round(figures["roadworks"]["rps"] / figures["pygeoapi"]["rps"], 2)
        if len(checks) > 1 and len(a.samples) > len(boxes_100):
            print("   note: the boxes ran out and were reused; Roadworks may have answered some from its cache")
        out.append({"query": title, "limit": limit, "example_bbox": checks[0], "checks": checked, **figures})
    return out


# ---------------------------------------------------------------------- Roadworks: 304 against 200

def public_gets(bbox: str, closure_id: str) -> list[str]:
    return [f"/api/v1/closures?bbox={bbox}&status=all", f"/api/v1/closures/{closure_id}",
            ours_items(bbox, 100), f"/ogc/collections/closures/items/{closure_id}",
            f"/feeds/wzdx.geojson?bbox={bbox}", f"/feeds/waze.json?bbox={bbox}", f"/feeds/waze.xml?bbox={bbox}",
            f"/feeds/closures.ics?bbox={bbox}", f"/open511/events?bbox={bbox}"]


def revalidation(port: int, bbox: str, seconds: float, rounds: int) -> tuple[dict, list[dict]]:
    """Per public GET: the 304 an If-None-Match earns against the 200 of the same request, in turns; and the
    plain Flask view beside them for reference (GET /healthz: connection, client and framework, no cache)."""
    _, _, body, _ = get(port, ours_items(bbox, 1), ACCEPT)
    closure_id = json.loads(body)["features"][0]["id"]
    healthz = Side("healthz", port, lambda i: "/healthz", {}, 200)
    healthz.turn(seconds)
    out = []
    for path in public_gets(bbox, closure_id):
        _, status, body, response = get(port, path)
        etag = response.headers.get("ETag")
        if status != 200 or not etag:
            print(f"   skipped {path}: answered {status} {'without' if not etag else 'with'} an ETag")
            out.append({"path": path, "skipped": f"status {status}, ETag {etag!r}"})
            continue
        full = Side("200", port, lambda i, p=path: p, {}, 200)
        short = Side("304", port, lambda i, p=path: p, {"If-None-Match": etag}, 304)
        figures = interleaved(full, short, seconds, rounds)
        figures["cost_304_over_200"] = round(figures["304"]["median_ms"] / figures["200"]["median_ms"], 2)
        out.append({"path": path, "bytes_200": len(body), **figures})
    return healthz.figures(), out


# ---------------------------------------------------------------------- report

def versus_table(rows: list[dict]) -> str:
    lines = ["| query | features (ours / peer) | bytes (ours / peer) | server | median ms | p95 ms | req/s "
             "| Roadworks ÷ pygeoapi req/s |", "| --- | --- | --- | --- | ---: | ---: | ---: | ---: |"]
    for r in rows:
        check = r["checks"][0]
        for name in ("roadworks", "pygeoapi"):
            f = r[name]
            lines.append(f"| {r['query'] if name == 'roadworks' else ''} "
                         f"| {check['roadworks_features']} / {check['pygeoapi_features']} "
                         f"| {check['roadworks_bytes']:,} / {check['pygeoapi_bytes']:,} | {name} "
                         f"| {f['median_ms']:.2f} | {f['p95_ms']:.2f} | {f['rps']} "
                         f"| {r['ratio_rps'] if name == 'roadworks' else ''} |")
    return "\n".join(lines)


def revalidation_table(healthz: dict, rows: list[dict]) -> str:
    lines = [f"reference, GET /healthz (a plain Flask view, never cached): {healthz['median_ms']:.2f} ms median, "
             f"{healthz['rps']} req/s",
             "| Roadworks path | bytes 200 | 200 median / p95 ms | 304 median / p95 ms | 200 req/s | 304 req/s "
             "| 304 ÷ 200 cost |", "| --- | ---: | --- | --- | ---: | ---: | ---: |"]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['path']} | skipped: {r['skipped']} | | | | | |")
            continue
        full, short = r["200"], r["304"]
        lines.append(f"| {r['path']} | {r['bytes_200']:,} | {full['median_ms']:.2f} / {full['p95_ms']:.2f} "
                     f"| {short['median_ms']:.2f} / {short['p95_ms']:.2f} | {full['rps']} | {short['rps']} "
                     f"| {r['cost_304_over_200']} |")
    return "\n".join(lines)


def commit() -> dict:
    """The commit measured, and the files under roadworks/ that differed from it (others edit the same tree)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True).stdout
    changed = [line[3:] for line in git("status", "--porcelain", "--", "roadworks").splitlines()]
    return {"commit": git("log", "-1", "--format=%h").strip(), "uncommitted_in_roadworks": changed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="per query per server")
    parser.add_argument("--rounds", type=int, default=10, help="turns per server and query")
    parser.add_argument("--etag-seconds", type=float, default=2.0, help="per path, for the 200 and for the 304")
    parser.add_argument("--output", default=str(ROOT / "bench" / "peer.json"))
    options = parser.parse_args()
    python = ensure_peer_venv()
    versions = peer_versions(python)
    print(f"-- pygeoapi {versions['pygeoapi']}, SpatiaLite {versions['spatialite']}; sizing the boxes", flush=True)
    snapshot, _ = run.build_snapshot(N)
    sides = {hits: run.box_side_for(snapshot, hits) for hits in (100, 1000)}
    del snapshot
    started = time.time()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        print(f"-- {N:,} closures into Roadworks (SQLite) and into SpatiaLite for pygeoapi", flush=True)
        ours, ours_port = start_roadworks(work)
        try:
            peer, peer_port = start_pygeoapi(work, python)
            try:
                run.wait_ready(f"http://127.0.0.1:{ours_port}{ours_items(bbox_text(centred(sides[100])), 100)}")
                run.wait_ready(f"http://127.0.0.1:{peer_port}{peer_items(bbox_text(centred(sides[100])), 100)}")
                rows = versus(ours_port, peer_port, options.seconds, options.rounds, sides)
            finally:
                run.stop(peer)
            print("-- Roadworks: 304 against 200 per public GET", flush=True)
            healthz, etags = revalidation(ours_port, bbox_text(centred(sides[100])), options.etag_seconds,
                                 max(2, options.rounds // 2))
        finally:
            run.stop(ours)
    report = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), **commit(),
              "python": platform.python_version(), "cpus": os.cpu_count(), "closures": N,
              "seconds_per_query_per_server": options.seconds, "rounds": options.rounds,
              "etag_seconds": options.etag_seconds, "measured_s": round(time.time() - started),
              "box_side_deg": {str(k): round(v, 5) for k, v in sides.items()}, "peer": versions,
              "client": "one sequential client, a new TCP connection per request, Accept-Encoding: identity",
              "servers": "gunicorn, 1 sync worker each; neither logs each request (Roadworks WARNING, pygeoapi ERROR)",
              "versus_pygeoapi": rows, "roadworks_healthz": healthz,
              "roadworks_304_vs_200": etags}
    Path(options.output).write_text(json.dumps(report, indent=1) + "\n")
    print(versus_table(rows))
    print()
    print(revalidation_table(healthz, etags))


if __name__ == "__main__":
    main()

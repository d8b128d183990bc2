"""Whole-city reads at 100,000 closures: what a read of every closure costs one gunicorn worker, in time and RSS.

Bbox traffic first (the common case), then the reads that touch every closure: the first /metrics scrape
(a status each), the partner feeds without a bbox (each asked twice), a 1,000-feature page, and bbox
traffic again. After each step it prints the status, the seconds, the answer's size and the worker's RSS.
With --baseline, another checkout (`git worktree add /tmp/base <commit>`) is served from the same file
in turn, for before/after figures from one run.

Run from the repository root:  python bench/city.py [--closures 100000] [--db FILE] [--baseline DIR]
                                                   [--set NAME=VALUE ...] [--output FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import synthetic  # noqa: E402
from bench.attack import request  # noqa: E402
from bench.run import free_port, populate, start_gunicorn, stop, wait_ready, worker_memory_mb  # noqa: E402

UNLIMITED = "100000000 per minute"
# A moment inside the synthetic schedules (2024-2027), so that statuses and feeds are busy.
AT = "2025-03-01T12:00:00+08:00"
WHOLE_CITY = ["/metrics", "/feeds/wzdx.geojson", "/feeds/wzdx.geojson", "/feeds/waze.json", "/feeds/waze.json",
              "/feeds/closures.ics", "/feeds/closures.ics", "/ogc/collections/closures/items?limit=1000"]


def bbox_paths(count: int, seed: int, side: float = 0.02) -> list[str]:
    rng = random.Random(seed)
    west, south, east, north = synthetic.AREA
    out = []
    for _ in range(count):
        x, y = rng.uniform(west, east - side), rng.uniform(south, north - side)
        out.append(f"/api/v1/closures?bbox={x:.5f},{y:.5f},{x + side:.5f},{y + side:.5f}")
    return out


def serve(tree: Path, url: str, settings: dict[str, str]) -> tuple[object, int]:
    port = free_port()
    env = {**{f"ROADWORKS_{k}": v for k, v in settings.items()},"ROADWORKS_DATABASE_URL": url, "ROADWORKS_RATE_LIMIT": UNLIMITED, "ROADWORKS_AT": AT,
           "ROADWORKS_PARTNER_RATE_LIMIT": UNLIMITED, "ROADWORKS_LOG_LEVEL": "WARNING",
           "ROADWORKS_PUBLIC_URL": f"http://127.0.0.1:{port}/", "PYTHONPATH": str(tree)}
    process = start_gunicorn("wsgi:app", port, env, tree, workers=1)
    wait_ready(f"http://127.0.0.1:{port}/healthz", 900)
    return process, port


def step(port: int, master: int, name: str, paths: list[str]) -> dict:
    statuses, seconds, size = [], 0.0, 0
    for path in paths:
        status, _, body, took = request(port, "GET", path, timeout=900)
        statuses.append(status)
        seconds += took
        size += len(body)
    return {"step": name, "statuses": sorted(set(statuses)), "seconds": round(seconds, 2), "bytes": size,
            "rss_mb": worker_memory_mb(master, "Rss")[0]}


def run(tree: Path, url: str, settings: dict[str, str]) -> list[dict]:
    process, port = serve(tree, url, settings)
    try:
        steps = [step(port, process.pid, "started", [])]
        steps.append(step(port, process.pid, "bbox traffic: 200 boxes of ~0.02 degree", bbox_paths(200, 1)))
        for path in WHOLE_CITY:
            steps.append(step(port, process.pid, path, [path]))
        steps.append(step(port, process.pid, "bbox traffic again: 200 new boxes", bbox_paths(200, 2)))
        return steps
    finally:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--closures", type=int, default=100_000)
    parser.add_argument("--db", help="SQLite file to use (written if missing)")
    parser.add_argument("--baseline", help="another checkout of the project, served in turn from the same file")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for the server (ROADWORKS_NAME), say PARSED_CACHE_BYTES=16777216")
    parser.add_argument("--output", default=str(ROOT / "bench" / "city.json"))
    options = parser.parse_args()
    settings = dict(item.split("=", 1) for item in options.set)
    trees = {"this": ROOT}
    if options.baseline:
        trees = {"baseline": Path(options.baseline).resolve(), **trees}
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(options.db) if options.db else Path(folder) / "city.sqlite3"
        url = f"sqlite:///{path}"
        if not path.exists():
            print(f"-- writing {options.closures:,} closures to {path}", flush=True)
            populate(url, options.closures)
        for name, tree in trees.items():
            results[name] = run(tree, url, settings)
            for row in results[name]:
                print(name, json.dumps(row, ensure_ascii=False), flush=True)
    Path(options.output).write_text(json.dumps({"closures": options.closures, "at": AT, "settings": settings,
                                                **results}, indent=1) + "\n")


if __name__ == "__main__":
    main()

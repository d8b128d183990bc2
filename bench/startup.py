"""Start-up cost: a cold full snapshot build from a SQLite file of synthetic closures, in seconds and RSS growth.

Run from the repository root:  python bench/startup.py [--closures 100000] [--db FILE] [--runs 3] [--baseline DIR]
The file is written once (kept with --db, else in a temporary folder); each run builds in a fresh process,
then asks every closure its status once (what a build no longer does up front). With --baseline, another
checkout (say `git worktree add /tmp/base main`) is run in turn with this one on the same file, for ratios
measured under the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AT = datetime(2025, 3, 1, 4, tzinfo=timezone.utc)


def rss_mb() -> float:
    """This process's resident set now (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def timed(work) -> tuple[object, float, float]:
    """`work()`, its wall and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = work()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def build_once(url: str) -> dict:
    """In this process: import everything, time one cold `ReadModel(store).snapshot()`, then a status each."""
    from roadworks.index import ReadModel
    from roadworks.store.engine import make_engine
    from roadworks.store.repository import Store

    store = Store(make_engine(url))
    store.sequence()  # the connection pool and driver are warm: only the build is timed
    before = rss_mb()
    snapshot, wall, cpu = timed(ReadModel(store).snapshot)
    built = rss_mb()
    _, status_wall, status_cpu = timed(lambda: [e.status(AT) for e in snapshot.entries()])
    return {"seconds": round(wall, 2), "cpu_seconds": round(cpu, 2), "rss_growth_mb": round(built - before, 1),
            "first_statuses_seconds": round(status_wall, 2), "first_statuses_cpu_seconds": round(status_cpu, 2),
            "rss_growth_after_statuses_mb": round(rss_mb() - before, 1), "entries": snapshot.bound}


def run_child(tree: Path, url: str) -> dict:
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", url], capture_output=True,
                         text=True, check=True, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def best(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["cpu_seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--closures", type=int, default=100_000)
    parser.add_argument("--db", help="SQLite file to use (written if missing)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", help="another checkout of the project to run in turn with this one")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(build_once(options.child)))
        return
    trees = {"this": ROOT}
    if options.baseline:
        trees["baseline"] = Path(options.baseline).resolve()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(options.db) if options.db else Path(folder) / "startup.sqlite3"
        url = f"sqlite:///{path}"
        if not path.exists():
            sys.path.insert(0, str(ROOT))
            from bench.run import populate

            print(f"-- writing {options.closures:,} closures to {path}", flush=True)
            populate(url, options.closures)
        runs: dict[str, list[dict]] = {name: [] for name in trees}
        for _ in range(options.runs):
            for name, tree in trees.items():
                runs[name].append(run_child(tree, url))
                print(name, json.dumps(runs[name][-1]), flush=True)
    for name in trees:
        top = best(runs[name])
        print(f"{name}: best of {len(runs[name])} by CPU: build {top['seconds']} s ({top['cpu_seconds']} s CPU), "
              f"RSS +{top['rss_growth_mb']} MB; then a status each {top['first_statuses_seconds']} s "
              f"({top['first_statuses_cpu_seconds']} s CPU), RSS +{top['rss_growth_after_statuses_mb']} MB in all")
    if options.baseline:
        ours, theirs = best(runs["this"]), best(runs["baseline"])
        print(f"build CPU this / baseline: {ours['cpu_seconds'] / theirs['cpu_seconds']:.2f}; "
              f"RSS growth this / baseline: {ours['rss_growth_mb'] / theirs['rss_growth_mb']:.2f}")


if __name__ == "__main__":
    main()

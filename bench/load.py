"""Load on loopback: partners polling with conditional GETs while the bureau writes, against gunicorn.

Run from the repository root:

    python bench/load.py                       # 60 s, 20 pollers, the demo data
    python bench/load.py --closures 10000      # ... plus a synthetic city of 10,000 closures
    python bench/load.py --seconds 3 --users 4 --json out.json   # the smoke the tests run

It starts `gunicorn --preload` on a free port with a fresh SQLite database, then runs locust (as a
library, headless) in this process: `--users` pollers cycle through the partner paths with
If-None-Match, keeping each path's last ETag (and following the change feed's `next` cursor), while
one editor PATCHes a demo closure (once a second; see --write-every), so the pollers' copies go stale.
Prints requests per second, p50/p99 latency and errors per path; the target is zero errors.
"""

from __future__ import annotations

# locust patches the standard library for gevent: it must come first.
from locust import FastHttpUser, constant, constant_pacing, events, task  # isort: skip
from locust.env import Environment  # isort: skip

import argparse
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path

import gevent

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from roadworks import create_app  # noqa: E402
from roadworks.api.bodies import load_features, load_project  # noqa: E402
from roadworks.auth import create_token  # noqa: E402
from roadworks.demo import AGENCY, CLOSURES, DEMO_ACTOR, PROJECT  # noqa: E402

BBOX = "101.78,36.60,101.81,36.62"  # Dongguan Street and its neighbourhood
PATHS = {"closures?bbox": f"/api/v1/closures?bbox={BBOX}", "wzdx": "/feeds/wzdx.geojson",
         "waze": "/feeds/waze.json", "changes": "/api/v1/changes"}
UNLIMITED = "100000000 per minute"  # every poller comes from 127.0.0.1: the rate limit is not under test


class Tally:
    """Every request's outcome and exact latency (locust's own percentiles round to whole milliseconds)."""

    def __init__(self):
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.errors: dict[str, Counter] = defaultdict(Counter)

    def record(self, request_type, name, response_time, response_length, exception=None, response=None, **_):
        self.latency[name].append(response_time)
        self.statuses[name][getattr(response, "status_code", 0)] += 1
        if exception is not None:
            self.errors[name][str(exception)[:120]] += 1


class Partner(FastHttpUser):
    """A navigation app's poller: each partner path in turn, revalidated with the ETag it last got."""

    wait_time = constant(0)

    def on_start(self):
        self.etags: dict[str, str] = {}
        self.since: str | None = None

    @task
    def poll(self):
        for name, path in PATHS.items():
            if name == "changes" and self.since:
                path = f"{path}?since={self.since}"
            self._get(name, path)

    def _get(self, name: str, path: str) -> None:
        headers = {"Accept-Encoding": "gzip"}
        if path in self.etags:
            headers["If-None-Match"] = self.etags[path]
        with self.client.get(path, headers=headers, name=name, catch_response=True) as response:
            if response.status_code == 200:
                self.etags[path] = response.headers["ETag"]
                if name == "changes":
                    self.since = response.json()["next"]
                response.success()
            elif response.status_code == 304:
                response.success()
            else:
                response.failure(f"{response.status_code} {response.text[:80]}")


class Bureau(FastHttpUser):
    """The construction bureau's desk: reads a demo closure and PATCHes it with If-Match, every few seconds."""

    fixed_count = 1
    token = ""
    every = 1.0  # seconds between writes

    def wait_time(self):
        return constant_pacing(self.every)(self)

    def on_start(self):
        self.targets = itertools.cycle(c["id"] for c in CLOSURES)
        self.round = 0

    @task
    def update(self):
        id, self.round = next(self.targets), self.round + 1
        write = {"Authorization": f"Bearer {self.token}"}
        with self.client.get(f"/api/v1/closures/{id}", headers=write, name="editor GET",
                             catch_response=True) as response:
            if response.status_code != 200:
                return response.failure(f"{response.status_code}")
            etag = response.headers["ETag"]
        body = json.dumps({"properties": {"detour": f"经南小街绕行 ({self.round})"}})
        with self.client.patch(f"/api/v1/closures/{id}", data=body, name="editor PATCH", catch_response=True,
                               headers={**write, "If-Match": etag,
                                        "Content-Type": "application/merge-patch+json"}) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} {response.text[:80]}")


def prepare(database_url: str, closures: int) -> str:
    """A fresh database with the demo (and `closures` synthetic ones), and an editor token for the bureau."""
    if closures:
        from bench.run import populate  # writes the synthetic city straight into the tables

        populate(database_url, closures)
    app = create_app({"DATABASE_URL": database_url})
    services = app.extensions["roadworks"]
    services.registry.create_project(load_project(PROJECT), DEMO_ACTOR)
    demo = load_features({"type": "FeatureCollection", "features": CLOSURES})
    services.registry.import_features(demo, DEMO_ACTOR)
    token, _ = create_token(services.store, role="editor", name="Load bureau", agency=AGENCY, now=services.clock())
    services.store.engine.dispose()
    return token


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(database_url: str, port: int, workers: int, log: Path) -> subprocess.Popen:
    """gunicorn as the README runs it; its request log goes to `log`, as it would to a file in production."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROADWORKS_")}
    env.update(ROADWORKS_DATABASE_URL=database_url, ROADWORKS_RATE_LIMIT=UNLIMITED,
               ROADWORKS_PARTNER_RATE_LIMIT=UNLIMITED)
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--preload", "-w", str(workers), "-b", f"127.0.0.1:{port}",
             "--log-level", "warning", "wsgi:app"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/projects", timeout=5):
                return process
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer within 300 s")


def run(host: str, token: str, users: int, seconds: float, write_every: float) -> tuple[Tally, float]:
    """locust, headless, in this process: `users` pollers and one editor for `seconds`."""
    Bureau.token, Bureau.every = token, write_every
    tally = Tally()
    environment = Environment(user_classes=[Partner, Bureau], events=events, host=host)
    environment.events.request.add_listener(tally.record)
    runner = environment.create_local_runner()
    started = time.monotonic()
    runner.start(users + 1, spawn_rate=max(users, 10))
    gevent.spawn_later(seconds, runner.quit)
    runner.greenlet.join()
    return tally, time.monotonic() - started


def summary(tally: Tally, elapsed: float) -> dict:
    def row(samples: list[float], statuses: Counter, errors: Counter) -> dict:
        cuts = statistics.quantiles(samples, n=100, method="inclusive") if len(samples) > 1 else samples * 99
        return {"requests": len(samples), "per_second": round(len(samples) / elapsed, 1),
                "p50_ms": round(cuts[49], 2), "p99_ms": round(cuts[98], 2),
                "status": {str(k): v for k, v in sorted(statuses.items())}, "errors": sum(errors.values()),
                "error_kinds": dict(errors)}

    names = sorted(tally.latency)
    rows = {name: row(tally.latency[name], tally.statuses[name], tally.errors[name]) for name in names}
    everything = row([t for name in names for t in tally.latency[name]],
                     sum(tally.statuses.values(), Counter()), sum(tally.errors.values(), Counter()))
    return {"seconds": round(elapsed, 1), "paths": rows, "total": everything}


def table(result: dict) -> str:
    lines = ["| path | requests | per second | p50 ms | p99 ms | 200 | 304 | errors |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, row in [*result["paths"].items(), ("total", result["total"])]:
        lines.append(f"| {name} | {row['requests']:,} | {row['per_second']:,} | {row['p50_ms']} | {row['p99_ms']} "
                     f"| {row['status'].get('200', 0):,} | {row['status'].get('304', 0):,} | {row['errors']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--users", type=int, default=20, help="concurrent pollers (plus one editor)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--closures", type=int, default=0, help="synthetic closures besides the demo")
    parser.add_argument("--write-every", type=float, default=1.0, help="seconds between the editor's PATCHes")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="roadworks-load-") as work:
        database_url = f"sqlite:///{work}/roadworks.sqlite3"
        token = prepare(database_url, args.closures)
        port = free_port()
        server = serve(database_url, port, args.workers, Path(work) / "gunicorn.log")
        try:
            tally, elapsed = run(f"http://127.0.0.1:{port}", token, args.users, args.seconds, args.write_every)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
    result = summary(tally, elapsed)
    result.update(users=args.users, workers=args.workers, closures=args.closures + len(CLOSURES),
                  write_every=args.write_every, cpus=os.cpu_count())
    print(f"{args.users} pollers + 1 editor (a PATCH every {args.write_every:g} s), gunicorn -w {args.workers}, "
          f"{result['closures']:,} closures, {result['seconds']} s, {result['cpus']} CPUs shared by client and server")
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    sys.exit(1 if result["total"]["errors"] else 0)


if __name__ == "__main__":
    main()

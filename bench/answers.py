"""What each public GET costs in process, by how it is answered: built, replayed as 200, or answered 304.

Run from the repository root:  python bench/answers.py [--closures 10000] [--repeat 200]

The app is called as a WSGI application (no sockets, no server), so the figures are the service's own
work. For each path it times:
- built: the answer cache emptied before each call (each closure's Feature fragments stay kept, as
  after a write elsewhere in the city), so the answer is selected, joined and compressed again;
- from scratch: the answer cache and the fragments emptied (the first poll after start);
- 200: the same request again, replayed by the WSGI layer; 304: the same with If-None-Match.
It prints the table and the ratios 304 ÷ built and 304 ÷ replayed 200, and writes bench/answers.json.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import synthetic  # noqa: E402
from bench.run import box_side_for, populate  # noqa: E402
from roadworks import create_app  # noqa: E402
from roadworks.answers import AnswerCache  # noqa: E402
from roadworks.feeds import FragmentMemo  # noqa: E402


def paths(bbox: str, one: str) -> list[tuple[str, str, dict]]:
    """(label, path?query, extra headers) for every public GET partners poll."""
    return [("closures list", f"/api/v1/closures?bbox={bbox}&status=all", {}),
            ("one closure", f"/api/v1/closures/{one}", {}),
            ("OGC items", f"/ogc/collections/closures/items?bbox={bbox}&limit=100", {}),
            ("OGC item", f"/ogc/collections/closures/items/{one}", {}),
            ("WZDx", f"/feeds/wzdx.geojson?bbox={bbox}", {}),
            ("Waze JSON", f"/feeds/waze.json?bbox={bbox}", {}),
            ("Waze XML", f"/feeds/waze.xml?bbox={bbox}", {}),
            ("iCalendar", f"/feeds/closures.ics?bbox={bbox}", {}),
            ("Open511 events", f"/open511/events?bbox={bbox}", {"HTTP_ACCEPT": "application/json"}),
            ("projects", "/api/v1/projects", {}),
            ("changes", "/api/v1/changes?limit=100", {})]


class Caller:
    """Calls the app as a WSGI server would, with gzip accepted as partners' clients do."""

    def __init__(self, app):
        self.app = app

    def __call__(self, target: str, headers: dict) -> tuple[int, dict, bytes]:
        path, _, query = target.partition("?")
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "bench",
                   "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
                   "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr, "REMOTE_ADDR": "127.0.0.1",
                   "HTTP_HOST": "bench", "HTTP_ACCEPT_ENCODING": "gzip", **headers}
        seen = {}

        def start_response(status, response_headers, exc_info=None):
            seen["status"], seen["headers"] = int(status[:3]), dict(response_headers)

        body = b"".join(self.app(environ, start_response))
        return seen["status"], seen["headers"], body


def timed(call, repeat: int, before=None) -> float:
    """Median microseconds of `call()`, with `before()` run untimed before each."""
    samples = []
    for _ in range(repeat):
        if before is not None:
            before()
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1e6)
    return round(statistics.median(samples), 1)


def measure(n: int, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        populate(url, n)
        app = create_app({"DATABASE_URL": url, "RATE_LIMIT": "100000000 per minute", "LOG_LEVEL": "WARNING"})
        services = app.extensions["roadworks"]
        snapshot = services.index.snapshot()
        side = box_side_for(snapshot)
        cx, cy = (synthetic.AREA[0] + synthetic.AREA[2]) / 2, (synthetic.AREA[1] + synthetic.AREA[3]) / 2
        bbox = f"{cx - side / 2:.6f},{cy - side / 2:.6f},{cx + side / 2:.6f},{cy + side / 2:.6f}"
        one = snapshot.select(area=None)[len(snapshot.base.order) // 2].id
        call = Caller(app)
        budget, fragment_budget = services.answers.budget, services.fragments.budget

        def forget_answers():
            services.answers = AnswerCache(budget)

        def forget_everything():
            forget_answers()
            services.fragments = FragmentMemo(fragment_budget)

        rows = []
        for label, target, headers in paths(bbox, one):
            status, first, body = call(target, headers)
            assert status == 200, (target, status, body[:300])
            etag = first["ETag"]
            scratch = timed(lambda: call(target, headers), max(3, repeat // 20), forget_everything)
            built = timed(lambda: call(target, headers), max(5, repeat // 5), forget_answers)
            call(target, headers)
            call(target, headers)
            replayed = timed(lambda: call(target, headers), repeat)
            revalidated = timed(lambda: call(target, {**headers, "HTTP_IF_NONE_MATCH": etag}), repeat)
            assert call(target, {**headers, "HTTP_IF_NONE_MATCH": etag})[0] == 304, target
            rows.append({"path": label, "target": target, "bytes": len(body), "scratch_us": scratch,
                         "built_us": built, "replayed_200_us": replayed, "not_modified_us": revalidated,
                         "304_over_built": round(revalidated / built, 3),
                         "304_over_200": round(revalidated / replayed, 3)})
        return {"closures": n, "bbox": bbox, "rows": rows}


def table(result: dict) -> str:
    lines = [f"{result['closures']:,} closures, bbox {result['bbox']} (microseconds, median, in process)",
             "| path | bytes (gzip) | from scratch | built | 200 replayed | 304 | 304 ÷ built | 304 ÷ 200 |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in result["rows"]:
        lines.append(f"| {r['path']} | {r['bytes']:,} | {r['scratch_us']:,} | {r['built_us']:,} "
                     f"| {r['replayed_200_us']:,} | {r['not_modified_us']:,} | {r['304_over_built']} "
                     f"| {r['304_over_200']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--closures", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    result = measure(args.closures, args.repeat)
    print(table(result))
    (ROOT / "bench" / "answers.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

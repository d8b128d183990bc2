"""The README's curl examples (its API tour), run as written against live servers, and their answers checked."""

from __future__ import annotations

import json
import os
import re
import shutil
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import live

README = live.ROOT / "README.md"
WRITTEN_FOR = "http://127.0.0.1:8000"
UNLIMITED = {"ROADWORKS_RATE_LIMIT": live.UNLIMITED, "ROADWORKS_PARTNER_RATE_LIMIT": live.UNLIMITED}


def section(first: str, stop: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{first}\n")
    return text[start:text.index(f"\n{stop}\n", start)]


def commands(text: str) -> list[str]:
    """Each shell command of the ```sh blocks in `text`, continuation lines and multi-line quotes joined."""
    found = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M):
        pending = ""
        for line in block.splitlines():
            pending += line + "\n"
            if pending.rstrip().endswith("\\") or not _complete(pending):
                continue
            if pending.strip() and not pending.lstrip().startswith("#"):
                found.append(pending.strip())
            pending = ""
        assert not pending.strip(), f"unfinished command in README: {pending}"
    return found


def _complete(command: str) -> bool:
    try:
        shlex.split(command, comments=True)
    except ValueError:  # an open quote: the command goes on on the next line
        return False
    return True


@dataclass
class Ran:
    command: str
    status: int
    output: str
    errors: str

    def json(self):
        return json.loads(self.output)


def run(commands_: list[str], server: live.Served, folder: Path) -> list[Ran]:
    """The commands in one bash script (so TOKEN, ETAG, NEXT carry over), pointed at `server`; curl fails on an
    HTTP error (--fail-with-body), and each command's output and exit status are kept."""
    folder.mkdir()
    venv_bin = f"{Path(sys.executable).parent}/"
    script = ["curl() { command curl --fail-with-body \"$@\"; }",
              "command -v ogrinfo > /dev/null || ogrinfo() { echo 'ogrinfo is not installed'; }"]
    for n, command in enumerate(commands_):
        here = command.replace(WRITTEN_FOR, server.url).replace(".venv/bin/", venv_bin)
        script.append(f"{{ {here}\n}} > {n}.out 2> {n}.err; echo $? > {n}.status")
    (folder / "readme.sh").write_text("\n".join(script) + "\n", encoding="utf-8")
    subprocess.run(["bash", "readme.sh"], cwd=folder, env=server.env, check=True, timeout=120)
    return [Ran(c, int((folder / f"{n}.status").read_text()), _read(folder / f"{n}.out"), _read(folder / f"{n}.err"))
            for n, c in enumerate(commands_)]


def _read(path: Path) -> str:
    with open(path, encoding="utf-8", newline="") as file:  # HTTP's CRLF kept: the body follows the blank line
        return file.read()


def the(ran: list[Ran], part: str) -> Ran:
    """The first command containing `part`: the README must still show it."""
    matching = [r for r in ran if part in r.command]
    assert matching, f"no README command contains {part!r}"
    return matching[0]


@pytest.fixture
def server(tmp_path):
    """serve(*args) -> `roadworks serve` on a database of its own, stopped afterwards."""
    started = []

    def serve(*args: str) -> live.Served:
        name = f"server-{len(started)}"
        database = f"sqlite:///{tmp_path / (name + '.sqlite3')}"
        started.append(live.Served(tmp_path / f"{name}.log", *args, ROADWORKS_DATABASE_URL=database, **UNLIMITED))
        return started[-1].start()

    yield serve
    for served in started:
        served.stop()


def test_no_readme_url_carries_raw_non_ascii():
    """waitress answers a raw 东关 in a URL with a plain-text 400 Bad URI: curl must encode it (-G --data-urlencode)."""
    urls = [word for command in commands(README.read_text(encoding="utf-8")) if "curl" in command
            for word in shlex.split(command, comments=True) if "://" in word]
    assert len(urls) > 20
    assert [url for url in urls if not url.isascii()] == []


@pytest.mark.system
def test_the_api_tour_runs_as_written_today(server, tmp_path):
    served = server("--demo")
    ran = run(commands(section("## API tour", "### Feeds")), served, tmp_path / "tour")
    assert [(r.command, r.status, r.errors) for r in ran if r.status != 0] == []

    now_closed = {f["id"] for f in the(ran, "/api/v1/closures'").json()["features"]}
    assert now_closed == {"dongguan-ledu-nanxiao", "dongguan-yangjia-jianguo"}
    then = {f["id"]: f["properties"]["status"] for f in the(ran, "at=2024-05-20T12:00:00%2B08:00").json()["features"]}
    assert then == {"dongguan-ledu-gonghe": "active", "dongguan-ledu-nanxiao": "upcoming",
                    "dongguan-yangjia-jianguo": "upcoming"}
    on_road = the(ran, "--data-urlencode 'road=东关'").json()["features"]
    assert len(on_road) == 3 and all("东关" in f["properties"]["road"] for f in on_road)

    first = the(ran, "curl -s -D - 'http").output
    assert re.search(r'^Link: <[^>]+>; rel="next"', first, re.M | re.I)
    first_page = json.loads(first.split("\r\n\r\n", 1)[1])["features"]
    next_page = the(ran, "8000$NEXT").json()["features"]
    assert len(first_page) == len(next_page) == 1 and first_page[0]["id"] != next_page[0]["id"]
    assert the(ran, "/history").json()["history"]

    created = the(ran, "-X POST http://127.0.0.1:8000/api/v1/closures ")
    assert (tmp_path / "tour" / "created.txt").read_text().startswith("HTTP/1.1 201")
    assert created.json()["properties"]["status"] in ("active", "upcoming")  # not completed on arrival
    assert re.fullmatch(r'"1\.[0-9a-f]+"\n', the(ran, 'echo "$ETAG"').output)
    patched = the(ran, "-X PATCH").json()
    assert (patched["properties"]["detour"], patched["properties"]["version"]) == ("经南小街绕行", 2)
    assert the(ran, "/reopen").json()["properties"]["status"] == "completed"

    assert len(the(ran, "/changes?limit=500").json()["changes"]) >= 4
    assert {c["id"] for c in the(ran, "/route-check").json()["closures"]} >= {"dongguan-ledu-nanxiao"}
    assert the(ran, "If-None-Match: $ETAG").output.startswith("HTTP/1.1 304")


@pytest.mark.system
def test_the_feed_counts_hold_when_replaying_20_may_2024(server, tmp_path):
    served = server("--demo", "--at", "2024-05-20T12:00+08:00")
    ran = run(commands(section("### Feeds", "## Time semantics")), served, tmp_path / "feeds")
    assert [(r.command, r.status, r.errors) for r in ran if r.status != 0] == []

    wzdx = the(ran, "/feeds/wzdx.geojson  ").json()["features"]
    assert len(wzdx) == 6 and len({f["properties"]["core_details"]["name"] for f in wzdx}) == 3
    assert len(the(ran, "wzdx.geojson?crs=gcj02").json()["features"]) == 6
    assert the(ran, "/feeds/waze.xml").output.count("<incident ") == 3
    assert the(ran, "--data-urlencode 'road=东关大街'").output.count("BEGIN:VEVENT") == 3
    assert the(ran, "closures.ics?bbox").output.count("BEGIN:VEVENT") == 3
    assert the(ran, "items?datetime=2024-09-01").json()["numberMatched"] == 2
    assert len(the(ran, "format=json&status=ALL'  ").json()["events"]) == 3
    if shutil.which("ogrinfo") or os.environ.get("CI") == "true":
        assert "Feature Count: 3" in the(ran, "ogrinfo").output

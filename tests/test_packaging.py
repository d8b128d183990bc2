"""A wheel of the project, installed outside the repository, serves the map, the docs and the demo data."""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests import live

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtualenv holding only the wheel built from this checkout; the bin folder.

    The wheel's dependencies come from this test run's environment through a .pth line (a plain path: the
    editable install of the checkout there is not activated, as its .pth is not read), which keeps the test
    at about half a minute; `pip check` then proves the wheel's own requirements are met.
    """
    folder = tmp_path_factory.mktemp("packaging")
    source = _clone(folder / "source")
    # Build isolation, as a plain `pip install .` does; setuptools comes from pip's cache.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(folder / "dist"),
                    str(source)], check=True, timeout=300, cwd=folder)
    wheel, = (folder / "dist").glob("roadworks-*.whl")
    fresh = folder / "venv"
    venv.create(fresh, with_pip=True)
    python = fresh / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, timeout=300)
    fresh_site = Path(subprocess.check_output(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    (fresh_site / "test-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([str(python), "-m", "pip", "check"], check=True, timeout=120, cwd=folder)
    return fresh / "bin"


def _clone(target: Path) -> Path:
    """The checkout's files as a clone would have them (tracked or new, not ignored), so nothing left in an
    ignored build/ folder of the checkout finds its way into the wheel."""
    listed = subprocess.check_output(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                     cwd=live.ROOT).decode().split("\0")
    for name in filter(None, listed):
        if (live.ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(live.ROOT / name, target / name)
    return target


def test_the_installed_package_is_the_wheel_not_the_checkout(installed):
    where = subprocess.check_output([str(installed / "python"), "-c", "import roadworks; print(roadworks.__file__)"],
                                    text=True, cwd=installed)
    assert where.startswith(str(installed.parent)), where


def test_an_installed_wheel_serves_map_docs_and_demo(installed, tmp_path):
    server = live.Served(tmp_path / "serve.log", "--demo", command=[str(installed / "roadworks")], cwd=tmp_path,
                         ROADWORKS_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}").start()
    try:
        status, headers, _ = _raw(server, "/map/")
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        for asset in ("/map/map.js", "/map/map.css", "/map/vendor/leaflet/leaflet.js", "/docs/assets/swagger-ui.css"):
            assert _raw(server, asset)[0] == 200, asset
        status, headers, body = _raw(server, "/docs/api.md")
        assert status == 200 and body.startswith(b"# The Roadworks API")
        status, headers, body = _raw(server, "/docs")
        assert status == 200 and b"swagger" in body.lower()
        assert server.call("GET", "/openapi.json")[0] == 200
        status, _, closures = server.call("GET", "/api/v1/closures?status=all")
        assert status == 200
        assert {f["id"] for f in closures["features"]} == {
            "dongguan-ledu-gonghe", "dongguan-ledu-nanxiao", "dongguan-yangjia-jianguo"}
    finally:
        server.stop()


def _raw(server: live.Served, path: str):
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()

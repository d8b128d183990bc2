"""A few seconds of bench/load.py: pollers and an editor at once against gunicorn, without a single error.

Timings depend on the machine and are not asserted; the full run and its figures are in the README.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.system, pytest.mark.skipif(
    importlib.util.find_spec("locust") is None or importlib.util.find_spec("gunicorn") is None,
    reason="locust and gunicorn are needed")]

ROOT = Path(__file__).resolve().parents[1]
POLLED = ("closures?bbox", "wzdx", "waze", "changes")


def test_short_load_has_no_errors_and_conditional_polls_are_answered_304(tmp_path):
    out = tmp_path / "load.json"
    # Its own process: locust patches the standard library for gevent as it is imported.
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "load.py"), "--seconds", "3", "--users", "3",
                          "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["total"]["errors"] == 0
    for name in POLLED:
        statuses = result["paths"][name]["status"]
        assert set(statuses) <= {"200", "304"}, (name, statuses)
        # The first poll of each path fetches it; repeated polls only revalidate until the editor writes.
        assert statuses.get("200", 0) >= 1 and statuses.get("304", 0) >= 1, (name, statuses)
    patched = result["paths"]["editor PATCH"]
    assert patched["requests"] >= 1 and patched["status"] == {"200": patched["requests"]}

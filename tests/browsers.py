"""What the browser tests share: Debian's Chromium under Playwright, a screenshot folder, the app served on a port."""

from __future__ import annotations

import os
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"


@contextmanager
def chromium() -> Iterator:
    """One Chromium (launching it is the slow part); skipped without the program, except in CI where it fails."""
    if not os.path.exists(CHROMIUM):
        reason = f"{CHROMIUM} not found (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --lang: the date picker follows the browser's own language, as on a resident's phone.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--lang=zh-CN"])
        yield browser
        browser.close()


def artifacts_folder(name: str) -> Path:
    """Where screenshots go: $ROADWORKS_ARTIFACTS/<name>, else roadworks-artifacts/<name> in the system's temp dir
    (never the repository)."""
    folder = Path(os.environ.get("ROADWORKS_ARTIFACTS") or Path(tempfile.gettempdir()) / "roadworks-artifacts") / name
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\n{name} screenshots: {folder}")
    return folder


@contextmanager
def served(app) -> Iterator[str]:
    """`app` served over HTTP on a free port of 127.0.0.1, in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()

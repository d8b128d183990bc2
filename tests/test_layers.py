"""The layering contracts in .importlinter, checked with import-linter.

The domain is pure; the read side, the registry, storage and operations sit below HTTP; the registry takes
parsed values; only store/ speaks to SQLAlchemy.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# In its own process: import-linter configures logging as it starts, which would silence this one's loggers.
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                              "sys.exit(lint_imports_command())"]


def lint(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*LINT, "--config", str(config), "--no-cache"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_the_import_contracts_are_kept():
    result = lint(ROOT / ".importlinter")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout


def test_a_broken_contract_is_caught(tmp_path):
    # The same checker on a contract the code breaks on purpose: the API layer may not import Flask.
    config = tmp_path / "broken.ini"
    config.write_text("[importlinter]\nroot_package = roadworks\ninclude_external_packages = True\n\n"
                      "[importlinter:contract:x]\nname = api without flask\ntype = forbidden\n"
                      "source_modules =\n    roadworks.api\nforbidden_modules =\n    flask\n")
    result = lint(config)
    assert result.returncode == 1 and "BROKEN" in result.stdout

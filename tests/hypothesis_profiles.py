"""Hypothesis profiles: `ci` (CI=true) runs every property at its full count, `dev` (elsewhere) a fifth of it.

HYPOTHESIS_PROFILE=ci runs CI's counts anywhere. Counts stated in a test go through `scaled`, so the
profile governs them too; `ci` keeps Hypothesis's own defaults, so CI is exactly as thorough as before.
"""

from __future__ import annotations

import math
import os

from hypothesis import settings

FULL = 100  # Hypothesis's default max_examples: the counts in the tests are written against it

settings.register_profile("ci", max_examples=FULL)
settings.register_profile("dev", max_examples=FULL // 5)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev"))


def scaled(count: int) -> int:
    """`count` examples under `ci`; the same share of it as the loaded profile has of FULL, at least one."""
    return max(1, math.ceil(count * settings.default.max_examples / FULL))

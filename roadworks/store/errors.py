"""Typed errors of the storage layer: what a database refusal means, so nothing above store/ sees a driver's."""

from __future__ import annotations

from ..domain.errors import Conflict


class AlreadyRemembered(Conflict):
    """An answer is already kept under this token and Idempotency-Key: another request with it committed first."""

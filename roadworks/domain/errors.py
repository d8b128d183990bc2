"""Typed errors the domain raises; the HTTP layer maps each to one problem+json answer."""


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""


class ValidationFailed(DomainError):
    """Input broke a rule; `errors` maps a field path to the reasons."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = {path: list(msgs) for path, msgs in errors.items()}
        super().__init__("; ".join(f"{p}: {', '.join(m)}" for p, m in self.errors.items()))

    @classmethod
    def one(cls, path: str, message: str) -> "ValidationFailed":
        return cls({path: [message]})

    def prefixed(self, prefix: str) -> "ValidationFailed":
        """The same errors with every path placed under `prefix`."""
        return ValidationFailed({_join(prefix, p): m for p, m in self.errors.items()})


class TooLarge(DomainError):
    """A read's answer would pass a cap set for its size; `errors` names the query field that narrows it.

    `until`, if known, is how long the same query at the same change sequence stays refused.
    """

    def __init__(self, field: str, message: str, until=None):
        self.errors, self.until = {field: [message]}, until
        super().__init__(f"{field}: {message}")


class NotFound(DomainError):
    """The named resource does not exist (or is not visible to the caller)."""


class Conflict(DomainError):
    """The write contradicts the stored state (duplicate id, stale version...)."""


class StaleVersion(Conflict):
    """The caller's If-Match names a version that is no longer current."""


class Unavailable(DomainError):
    """The storage cannot be reached or is busy right now; the same request may succeed later."""


def _join(prefix: str, path: str) -> str:
    if not prefix:
        return path
    if not path:
        return prefix
    return f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"

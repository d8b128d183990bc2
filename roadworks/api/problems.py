"""Every error as application/problem+json (RFC 9457), mapped from typed exceptions in this one place."""

from __future__ import annotations

import logging

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from ..auth import Forbidden, Unauthenticated
from ..domain.errors import Conflict, NotFound, StaleVersion, TooLarge, Unavailable, ValidationFailed
from .bodies import ProblemSchema, flatten_errors

log = logging.getLogger(__name__)

PROBLEMS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Not allowed for this token"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    412: ("precondition-failed", "Stale If-Match: the resource has changed"),
    413: ("too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("invalid", "Invalid input"),
    428: ("precondition-required", "If-Match required"),
    429: ("too-many-requests", "Too many requests"),
    500: ("internal", "Internal server error"),
    503: ("unavailable", "Service temporarily unavailable"),
}


# What a 503 asks clients to wait: about as long as a database restart takes.
RETRY_AFTER_SECONDS = 5


class Problem(Exception):
    """An HTTP-level failure raised by the API layer itself (bad JSON, missing If-Match...)."""

    def __init__(self, status: int, detail: str, errors: dict[str, list[str]] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.detail, self.errors, self.headers = status, detail, errors, headers or {}


def problem(status: int, detail: str, errors: dict | None = None, headers: dict | None = None) -> Response:
    """A problem+json response."""
    slug, title = PROBLEMS.get(status, ("error", "Error"))
    body = {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail,
            "instance": request.path}
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body, ensure_ascii=False), status=status,
                        mimetype="application/problem+json")
    response.headers.update(headers or {})
    response.headers["Cache-Control"] = "no-store"
    return response


def register(app: Flask) -> None:
    """Map every typed error to its problem answer."""

    @app.errorhandler(Problem)
    def on_problem(error: Problem):
        return problem(error.status, error.detail, error.errors, error.headers)

    @app.errorhandler(ValidationFailed)
    def on_invalid(error: ValidationFailed):
        return problem(422, "the request does not satisfy the rules; see errors", error.errors)

    @app.errorhandler(TooLarge)
    def on_too_large(error: TooLarge):
        return problem(400, "the answer would pass a size cap; narrow the query, see errors", error.errors)

    @app.errorhandler(Unauthenticated)
    def on_unauthenticated(error):
        return problem(401, str(error), headers={"WWW-Authenticate": 'Bearer realm="roadworks"'})

    @app.errorhandler(Forbidden)
    def on_forbidden(error):
        return problem(403, str(error))

    @app.errorhandler(NotFound)
    def on_not_found(error):
        return problem(404, str(error))

    @app.errorhandler(StaleVersion)
    def on_stale(error):
        return problem(412, f"{error}; GET it again and retry with its ETag")

    @app.errorhandler(Conflict)
    def on_conflict(error):
        return problem(409, str(error))

    @app.errorhandler(Unavailable)
    def on_database_down(error: Unavailable):
        log.warning("%s", error)
        return problem(503, "the database is unavailable; retry shortly",
                       headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    @app.errorhandler(HTTPException)
    def on_http(error: HTTPException):
        messages = (getattr(error, "data", None) or {}).get("messages")
        if messages:  # webargs' query-argument errors: {"query": {"bbox": [...]}}
            errors = {}
            for location_errors in messages.values():
                errors.update(flatten_errors(location_errors))
            return problem(400, "invalid query parameters; see errors", errors)
        headers = {"Allow": error.valid_methods and ", ".join(error.valid_methods)} \
            if getattr(error, "valid_methods", None) else None
        return problem(error.code or 500, error.description or "", headers=headers)

    @app.errorhandler(Exception)
    def on_unexpected(error):
        log.exception("unhandled error")
        return problem(500, "an unexpected error occurred; it has been logged")


# ---------------------------------------------------------------------- the OpenAPI document

_METHODS = ("get", "put", "post", "delete", "patch")
_PROBLEM_REF = {"$ref": "#/components/responses/Problem"}
# flask-smorest's own error answers (application/json, its Error schema), which this API never sends.
_SMOREST_ERRORS = {"DEFAULT_ERROR", "UNPROCESSABLE_ENTITY"}


def document(api) -> None:
    """State in the OpenAPI document that any operation may answer a problem (call after the last blueprint).

    flask-smorest documents errors as application/json with its own schema (and bad query arguments as
    422, where this API answers 400): here every status but the documented successes is a problem+json
    answer. Every GET may also answer 304 to If-None-Match.
    """
    components = api.spec.components
    if "Problem" in components.schemas:
        return
    components.schema("Problem", schema=ProblemSchema)
    components.response("Problem", {"description": "Error: RFC 9457 problem details", "content": {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
    smorest_refs = {f"#/components/responses/{name}" for name in _SMOREST_ERRORS}
    for path_item in api.spec.to_dict()["paths"].values():
        for method in _METHODS:
            responses = path_item.get(method, {}).get("responses")
            if responses is None:
                continue
            for status, response in list(responses.items()):
                if response.get("$ref") in smorest_refs:
                    del responses[status]
            if method == "get":
                responses.setdefault("304", {"description": "Not modified: the If-None-Match ETag still holds"})
            responses["default"] = _PROBLEM_REF
    for name in _SMOREST_ERRORS:
        components.responses.pop(name, None)
    components.schemas.pop("Error", None)

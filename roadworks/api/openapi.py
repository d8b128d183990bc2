"""The OpenAPI document's HTTP side: the bearer scheme, conditional and idempotency headers, response headers,
401/403/412/428/429, an example for every operation and a description for every field, so /docs can try a write."""

from __future__ import annotations

from typing import Any

from .bureau import EXAMPLES
from .headers import READ_POSTS

_METHODS = ("get", "put", "post", "delete", "patch")
# POSTs that only read: anyone may call them, a token only raises the rate limit.
# Partner push belongs to partner and admin tokens, reads included (api/subscriptions.py).
TOKEN_ONLY_PREFIXES = ("/api/v1/subscriptions",)
# POSTs anyone may send without a token: residents' reports (api/reports.py).
ANONYMOUS_POSTS = frozenset({"/api/v1/reports"})
# POSTs that honour Idempotency-Key (api/http.py idempotent()).
IDEMPOTENT_POSTS = frozenset({"/api/v1/projects", "/api/v1/closures", "/api/v1/closures/{id}/reopen",
                              "/api/v1/import"})
# Writes that need If-Match (428 without), and the one that takes it if sent.
IF_MATCH_REQUIRED = frozenset({"put", "patch", "delete"})
IF_MATCH_OPTIONAL = frozenset({("post", "/api/v1/closures/{id}/reopen")})

SECURITY_SCHEMES = {"bearer": {
    "type": "http", "scheme": "bearer",
    "description": "A token made on the server with `roadworks tokens create --role editor --agency A --name N` "
                   "(printed once). Editors write for their own agency; partners read with a higher rate limit."}}

_STRING = {"type": "string"}
HEADERS = {
    "ETag": {"description": "The representation's version, `\"version.digest\"` (weak, `W/...`, when "
                            "compressed). Send it back in If-Match to write, in If-None-Match to poll.",
             "schema": {**_STRING, "example": "\"2.1f3a9c0d2e4b5a67\""}},
    "Last-Modified": {"description": "When the answer last changed (HTTP-date); for If-Modified-Since.",
                      "schema": _STRING},
    "Cache-Control": {"description": "How long the answer may be reused: never past the next status change "
                                     "it contains.", "schema": _STRING},
    "Location": {"description": "The URL of the created resource.", "schema": {**_STRING, "format": "uri-reference"}},
    "Link": {"description": "`<URL>; rel=\"next\"` when there is a next page (same filters, a cursor).",
             "schema": _STRING},
    "RateLimit": {"description": "What is left of this client's budget (draft-ietf-httpapi-ratelimit-headers).",
                  "schema": _STRING},
    "RateLimit-Policy": {"description": "This client's budget: requests per window in seconds.", "schema": _STRING},
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}},
    "WWW-Authenticate": {"description": "`Bearer realm=\"roadworks\"`: send `Authorization: Bearer TOKEN`.",
                         "schema": _STRING},
    "X-Request-Id": {"description": "This request's id, also in the server's log line; send one to choose it.",
                     "schema": _STRING},
    "Roadworks-Clock": {"description": "Only when the server replays a date (`roadworks serve --at`): "
                                       "`replay <the instant it started from>`.", "schema": _STRING},
}
_ALWAYS = ("RateLimit", "RateLimit-Policy", "X-Request-Id", "Roadworks-Clock")

PARAMETERS = {
    "If-Match": {"in": "header", "name": "If-Match", "required": True, "schema": _STRING, "example": "*",
                 "description": "The ETag you last read of this resource (GET it: the ETag header). A stale one "
                                "answers 412, none 428; `*` writes whatever version is current."},
    "If-Match-optional": {"in": "header", "name": "If-Match", "required": False, "schema": _STRING,
                          "description": "Optional: the ETag you last read; a stale one answers 412."},
    "If-None-Match": {"in": "header", "name": "If-None-Match", "required": False, "schema": _STRING,
                      "description": "The ETag of your copy: 304 without a body while it still holds."},
    "Idempotency-Key": {"in": "header", "name": "Idempotency-Key", "required": False,
                        "schema": {**_STRING, "maxLength": 200}, "example": "7f3c-1",
                        "description": "Any unique string: a retry with the same key and body gets the first "
                                       "answer again instead of writing twice; with another body, 422."},
}


def _problem(description: str, *headers: str) -> dict:
    response = {"description": description, "content": {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    if headers:
        response["headers"] = {name: {"$ref": f"#/components/headers/{name}"} for name in headers}
    return response


RESPONSES = {
    "400": _problem("Bad request: a query parameter or header is malformed; `errors` names it"),
    "401": _problem("No token, or a token that is unknown or revoked", "WWW-Authenticate"),
    "403": _problem("The token may not do this (another agency's project, or a partner token writing)"),
    "409": _problem("Conflict with what is stored (an id taken, a project that still has closures)"),
    "412": _problem("If-Match names a version that is no longer current: GET it again and retry with its ETag"),
    "422": _problem("The body breaks a rule; `errors` maps each field's path to what is wrong"),
    "428": _problem("If-Match is required: send the ETag you last read"),
    "429": _problem("Too many requests for this client's budget", "Retry-After", "RateLimit", "RateLimit-Policy"),
}

# Examples that work against the demo data today (tests/api/test_openapi.py sends every one).
_NIGHT_WORKS = EXAMPLES["ClosureFeature"]
JURISDICTION = "{jurisdiction}"  # replaced by the app's OPEN511_JURISDICTION
PATH_EXAMPLES = {
    "id": {"/api/v1/projects/": "dongguan-gas-2024", "/api/v1/closures/": "dongguan-ledu-nanxiao",
           "/api/v1/reports/": "r0123456789abcdef",  # a report's id comes from its POST (tests file one first)
           "/api/v1/subscriptions/": "s0123456789abcdef"},  # likewise a subscription's
    "collectionId": "closures", "featureId": "dongguan-ledu-gonghe",
    "jurisdiction_id": JURISDICTION, "closure_id": "dongguan-ledu-gonghe",
}
QUERY_EXAMPLES = {
    ("get", "/api/v1/closures"): {"at": "2024-05-20T12:00:00+08:00", "status": "all", "road": "东关", "limit": 2},
    ("get", "/api/v1/closures/{id}"): {"at": "2024-05-20T12:00:00+08:00"},
    ("get", "/api/v1/changes"): {"limit": 100},
    ("get", "/api/v1/reports"): {"state": "new", "limit": 20},
    ("get", "/feeds/wzdx.geojson"): {"road": "东关大街"},
    ("get", "/feeds/closures.ics"): {"road": "东关大街"},
    ("get", "/feeds/waze.json"): {"road": "东关大街"},
    ("get", "/feeds/waze.xml"): {"road": "东关大街"},
    ("get", "/ogc/"): {"f": "json"},
    ("get", "/ogc/conformance"): {"f": "json"},
    ("get", "/ogc/collections"): {"f": "json"},
    ("get", "/ogc/collections/{collectionId}"): {"f": "json"},
    ("get", "/ogc/collections/{collectionId}/items"): {"datetime": "2024-05-20T12:00:00+08:00", "limit": 10},
    ("get", "/ogc/collections/{collectionId}/items/{featureId}"): {"f": "json"},
    ("get", "/open511/"): {"format": "json"},
    ("get", "/open511/jurisdictions"): {"format": "json"},
    ("get", "/open511/jurisdictions/{jurisdiction_id}"): {"format": "json"},
    ("get", "/open511/jurisdictions/{jurisdiction_id}/geography"): {"format": "json"},
    ("get", "/open511/events"): {"format": "json", "status": "ALL", "road_name": "东关大街"},
    ("get", "/open511/events/{jurisdiction_id}/{closure_id}"): {"format": "json"},
}
BODY_EXAMPLES = {
    ("post", "/api/v1/projects"): EXAMPLES["Project"],
    ("put", "/api/v1/projects/{id}"): EXAMPLES["Project"],
    ("patch", "/api/v1/projects/{id}"): {"contact": "12345 政务服务便民热线"},
    ("post", "/api/v1/closures"): _NIGHT_WORKS,
    ("put", "/api/v1/closures/{id}"): _NIGHT_WORKS,
    ("patch", "/api/v1/closures/{id}"): {"properties": {"detour": "经南小街绕行"}},
    ("post", "/api/v1/closures/{id}/reopen"): EXAMPLES["Reopen"],
    ("post", "/api/v1/import"): {"type": "FeatureCollection",
                                 "features": [{**_NIGHT_WORKS, "id": "dongguan-nanxiao-night"}]},
    ("post", "/api/v1/schedule/preview"): {
        "schedule": {"windows": [{"start": "2024-04-12", "end": "2024-06-04", "label": "一期"}],
                     "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "22:00", "end": "06:00"}]},
        "project": "dongguan-gas-2024", "actual_end": "2024-05-31", "from": "2024-04-01", "to": "2024-09-30"},
    ("post", "/api/v1/route-check"): {
        "route": {"type": "LineString", "coordinates": [[101.7850, 36.6119], [101.8090, 36.6110]]},
        "buffer_m": 25, "from": "2024-09-02T08:00:00+08:00", "to": "2024-09-02T10:00:00+08:00"},
}

_WHEN = "a date (`2024-06-05`, a whole local day in the project's zone) or an RFC 3339 date-time with an offset"
FIELD_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "Window": {"start": f"When the closure starts: {_WHEN}",
               "end": f"When it ends: {_WHEN}; a date is included, a date-time excluded; null: until further notice",
               "label": "A name for the phase, such as `phase 1`"},
    "Pause": {"start": f"When work stops and the road opens: {_WHEN}",
              "end": f"When the pause ends: {_WHEN}; null: until further notice",
              "reason": "Why, as residents should read it (tourist season)"},
    "Hours": {"days": "The days on which sessions start: mon, tue, wed, thu, fri, sat, sun",
              "start": "When each session starts, HH:MM local time",
              "end": "When it ends, HH:MM (24:00 allowed); before the start: the next morning"},
    "Schedule": {"windows": "The periods in which the road is planned to be closed (at least one)",
                 "pauses": "This closure's own pauses, beside its project's",
                 "hours": "Weekly hours that limit the windows (night works); none: around the clock"},
    "ClosureProperties": {
        "project": "The project's id; an editor may use only the projects of its own agency",
        "road": "The road's name", "from": "Where the closed stretch begins (a cross street)",
        "to": "Where it ends (a cross street)",
        "direction": "both, forward or backward, relative to the order of the geometry's points",
        "impact": "closed (every lane), lanes-closed, alternating (one lane, taking turns) or restricted",
        "description": "What is done, for residents (plain text)", "detour": "How to go round (plain text)",
        "schedule": "Windows, pauses and hours", "actual_start": f"When works really began: {_WHEN}",
        "actual_end": f"When the road really reopened: {_WHEN}; ends everything",
        "cancelled": "true when the bureau cancelled the closure",
        "publish_at": f"A draft until then, seen only by editors: {_WHEN}; absent: public at once"},
    "ClosureFeature": {"type": "Always `Feature`", "id": "The stable id (1-64 letters, digits, '.', '_', '-'); "
                       "absent on POST: the service makes one", "properties": "The closure's fields",
                       "bbox": "Ignored: computed from the geometry"},
    "FeatureCollection": {"type": "Always `FeatureCollection`", "features": "Closure Features (1 to 10,000)",
                          "bbox": "Ignored"},
    "Project": {"id": "The stable id; absent on POST: the service makes one", "name": "The project's name",
                "description": "What the project is (plain text)",
                "contact": "A phone number or e-mail for residents", "reference": "A permit number",
                "timezone": "IANA zone in which its dates are local days (default Asia/Shanghai)",
                "pauses": "Pauses that apply to every closure of the project"},
    "ProjectOut": {"id": "The stable id", "name": "The project's name", "description": "What the project is",
                   "agency": "Who answers for it", "contact": "A phone number or e-mail for residents",
                   "reference": "A permit number", "timezone": "IANA zone of its local days",
                   "pauses": "Pauses of every closure of the project", "version": "Counts every change from 1",
                   "created_at": "When it was created", "updated_at": "When it last changed"},
    "ProjectList": {"projects": "Every project"},
    "Preview": {"schedule": "Windows, pauses and hours, as a closure holds them",
                "actual_start": f"When works really began: {_WHEN}", "actual_end": f"When the road reopened: {_WHEN}",
                "cancelled": "true: shown as the cancelled closure would be (no periods)"},
    "HistoryEntry": {"version": "The version this change made", "at": "When", "by": "The token's name",
                     "action": "What was done (create, update, delete...)", "changes": "Each changed field: from, to"},
    "History": {"history": "Every version, oldest first"},
    "FeatureOut": {"type": "Always `Feature`", "id": "The closure's stable id", "geometry": "GeoJSON line, WGS 84 "
                   "(GCJ-02 with crs=gcj02)", "properties": "The closure's fields with status, next_change, "
                   "length_m, version, created_at and updated_at"},
    "FeatureList": {"type": "Always `FeatureCollection`", "features": "Closures, in id order",
                    "numberMatched": "How many match the filters", "numberReturned": "How many are on this page"},
    "Problem": {"type": "A URI naming the kind of problem (GET it for its title)", "title": "The kind in words",
                "status": "The HTTP status", "detail": "What went wrong here", "instance": "The request's path"},
}


def document(api, settings: dict[str, Any]) -> None:
    """Complete the OpenAPI document (call after problems.document, which makes every error a problem)."""
    components = api.spec.components
    if "bearer" in components.security_schemes:
        return
    for name, scheme in SECURITY_SCHEMES.items():
        components.security_scheme(name, scheme)
    for name, header in HEADERS.items():
        components.header(name, header)
    for status, response in RESPONSES.items():
        components.response(f"Problem{status}", response)
    _describe_fields(components)
    jurisdiction = str(settings.get("OPEN511_JURISDICTION", ""))
    for path, item in api.spec.to_dict()["paths"].items():
        _path_examples(path, item.get("parameters", []), jurisdiction)
        for method in _METHODS:
            if method in item:
                _operation(method, path, item[method])


def _describe_fields(components) -> None:
    for schema_name, fields in FIELD_DESCRIPTIONS.items():
        schema = components.schemas.get(schema_name)
        for field, description in fields.items():
            if schema and field in schema.get("properties", {}):
                schema["properties"][field].setdefault("description", description)


def _path_examples(path: str, parameters: list, jurisdiction: str) -> None:
    for parameter in parameters:
        known = PATH_EXAMPLES.get(parameter["name"])
        if isinstance(known, dict):
            known = next((v for prefix, v in known.items() if path.startswith(prefix)), None)
        if known is not None:
            parameter.setdefault("example", known.replace(JURISDICTION, jurisdiction))


def _operation(method: str, path: str, operation: dict) -> None:
    writes = method != "get" and path not in READ_POSTS and not (method == "post" and path in ANONYMOUS_POSTS)
    # Reads are public: a partner's token only raises its rate limit. {} lets Swagger UI call without one.
    tokened = writes or path.startswith(TOKEN_ONLY_PREFIXES)
    operation["security"] = [{"bearer": []}] if tokened else [{}, {"bearer": []}]
    parameters = operation.setdefault("parameters", [])
    for parameter in parameters:
        example = QUERY_EXAMPLES.get((method, path), {}).get(parameter["name"])
        if example is not None and parameter.get("in") == "query":
            parameter.setdefault("example", example)
    extra = []
    if method == "get":
        extra.append("If-None-Match")
    if writes and method in IF_MATCH_REQUIRED:
        extra.append("If-Match")
    if (method, path) in IF_MATCH_OPTIONAL:
        extra.append("If-Match-optional")
    if method == "post" and path in IDEMPOTENT_POSTS:
        extra.append("Idempotency-Key")
    # Inline, not $ref: readers of the document (and its tests) look at each parameter's name and place.
    parameters.extend(dict(PARAMETERS[name]) for name in extra)
    if not parameters:
        del operation["parameters"]
    body = BODY_EXAMPLES.get((method, path))
    for media in operation.get("requestBody", {}).get("content", {}).values():
        if body is not None:
            media.setdefault("example", body)
    _responses(method, path, operation["responses"], writes)


def _responses(method: str, path: str, responses: dict, writes: bool) -> None:
    for status, response in responses.items():
        if not status.startswith("2") and status != "304":
            continue
        headers = response.setdefault("headers", {})
        names = list(_ALWAYS)
        if status == "304":  # what a revalidation repeats: validators, caching, what is left of the budget
            names = [n for n in names if n != "RateLimit-Policy"] + ["ETag", "Cache-Control"]
        elif method == "get":
            names += ["ETag", "Last-Modified", "Cache-Control"]
            if path in ("/api/v1/closures", "/api/v1/changes"):
                names.append("Link")
        elif status in ("200", "201") and writes and path != "/api/v1/import":
            names.append("ETag")
        if status == "201":
            names.append("Location")
        for name in names:
            headers.setdefault(name, {"$ref": f"#/components/headers/{name}"})
    statuses = ["400", "429"]
    if writes:
        statuses += ["401", "403", "422"]
        if method in IF_MATCH_REQUIRED:
            statuses += ["412", "428"]
        if (method, path) in IF_MATCH_OPTIONAL:
            statuses.append("412")
        if method in ("post", "put", "delete"):
            statuses.append("409")
    for status in statuses:
        responses.setdefault(status, {"$ref": f"#/components/responses/Problem{status}"})

"""Schemathesis against the service's own /openapi.json: every operation, no 5xx, every answer as documented.

The spec is read at import from an app on an in-memory database, because schemathesis builds one
test per operation before any fixture exists (its fixture-based loader does not run under pytest 9).
Each operation then runs, with a bounded and reproducible number of generated requests, against
an app over the test database holding the Dongguan Street demo plus an active closure and a draft.
Reads go out anonymously, as the public's do (so the cached fast path is fuzzed too); writes carry
an editor token and `If-Match: *`, so PUT, PATCH and DELETE get past 428 to their bodies. Path ids
are real ones half of the time. A refused request must leave the change sequence where it was.
Every regression this found is kept in tests/api/test_bad_input.py.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from roadworks import create_app
from roadworks.demo import CLOSURES, PROJECT
from tests.hypothesis_profiles import scaled

# A write without its required If-Match is answered 428 Precondition Required (RFC 6585), as the contract says;
# schemathesis expects a 4xx of its own list there, so 428 is added to it.
CONFIG = SchemathesisConfig.from_dict({"checks": {"missing_required_header": {
    "expected-statuses": [428, 400, 401, 403, 406, 415, 422]}}})
schema = schemathesis.openapi.from_wsgi("/openapi.json", create_app({"DATABASE_URL": "sqlite://"}), config=CONFIG)

# Generated requests per operation at most (more come from the spec's examples and edge cases): 20 under the
# `ci` Hypothesis profile (about a minute), a fifth of that under `dev` (tests/hypothesis_profiles.py).
MAX_EXAMPLES = scaled(20)
PROJECT_IDS = [PROJECT["id"]]
CLOSURE_IDS = [c["id"] for c in CLOSURES] + ["fuzz-active", "fuzz-draft"]
# Schema-valid requests may still break rules a JSON Schema cannot state: windows that overlap, a pause
# outside every window, 2024-02-30, a line outside the service area, an unknown project, a stale ETag,
# an instant before 1900. Those answer 4xx by design (tests/api/test_bad_input.py), so this check is left out;
# every other check, negative_data_rejection included, runs.
EXCLUDED_CHECKS = [positive_data_acceptance]


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    """Half of the time, a resource that exists: otherwise nearly every id-path answers 404."""
    path_parameters = path_parameters or {}
    name = "collectionId" if "collectionId" in path_parameters else "id"
    if name not in path_parameters:
        return st.just(path_parameters)
    known = {"id": PROJECT_IDS if "/projects/" in context.operation.path else CLOSURE_IDS,
             "collectionId": ["closures"]}[name]
    return st.one_of(st.just(path_parameters),
                     st.sampled_from(known).map(lambda real: {**path_parameters, name: real}))


@pytest.fixture
def fuzzed_app(demo, add_closure, make_app):
    """The demo plus an active closure and a draft, served without rate limits (fuzzing is a flood)."""
    add_closure("fuzz-active", schedule={"windows": [{"start": "2024-05-01", "end": "2024-06-30"}]})
    add_closure("fuzz-draft", publish_at="2024-06-01")
    return make_app(RATE_LIMIT="", PARTNER_RATE_LIMIT="")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case, fuzzed_app, editor_token):
    # The WSGI test client does not decompress, so ask for plain bytes; compression is tested in test_limits.py.
    headers = {"Accept-Encoding": "identity"}
    if case.method != "GET":
        headers.update({"Authorization": f"Bearer {editor_token}", "If-Match": "*"})
    store = fuzzed_app.extensions["roadworks"].store
    sequence = store.sequence()
    response = case.call_and_validate(app=fuzzed_app, headers=headers, excluded_checks=EXCLUDED_CHECKS)
    if response.status_code >= 400:
        assert store.sequence() == sequence, f"a refused {case.operation.label} changed the database"

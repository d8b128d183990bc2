"""Query parsing (api/queries.py): the memo of parsed query strings stays within its byte budget."""

from __future__ import annotations

from roadworks.api.queries import ApiBlueprint
from roadworks.budget import ByteLru

CLOSURES = "/api/v1/closures"


def test_the_parse_memo_keeps_within_its_budget_and_drops_the_least_recently_used(make_app, monkeypatch):
    parser = ApiBlueprint.ARGUMENTS_PARSER
    monkeypatch.setattr(parser, "_memo", ByteLru(40_000))
    client = make_app(RATE_LIMIT="").test_client()
    for n in range(300):
        assert client.get(CLOSURES, query_string={"road": f"{n:04d}" + "x" * 150}).status_code == 200
        assert parser.used <= 40_000
    assert 10 < len(parser._memo) < 300
    newest = parser._memo.keys()[-1][1]
    assert newest.startswith(b"road=0299")


def test_a_repeated_query_string_is_parsed_once(make_app, monkeypatch):
    parser = ApiBlueprint.ARGUMENTS_PARSER
    parses = []
    real = type(parser).__mro__[1].parse
    monkeypatch.setattr(type(parser).__mro__[1], "parse", lambda *a, **k: parses.append(a) or real(*a, **k))
    client = make_app(RATE_LIMIT="").test_client()
    for _ in range(3):  # a feed: never replayed by the fast path, so every request reaches the parser
        assert client.get("/feeds/waze.json", query_string={"road": "memo-once"}).status_code == 200
    assert len(parses) == 1

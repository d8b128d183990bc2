"""Tokens: minted once, stored hashed, resolved to an actor; roles and agencies decide who may write."""

from __future__ import annotations

import hashlib

import pytest

from roadworks.auth import ANONYMOUS, Actor, Forbidden, Unauthenticated, create_token, hash_token, resolve
from roadworks.domain.errors import ValidationFailed


def test_only_the_hash_is_stored(services):
    plain, token = create_token(services.store, role="editor", name="desk", agency="A", now=services.clock())
    assert plain.startswith("rw_") and len(plain) > 40
    assert services.store.token_by_hash(hashlib.sha256(plain.encode()).hexdigest()).id == token.id
    assert services.store.token_by_hash(plain) is None


def test_resolve_gives_the_token_holder(services):
    plain, token = create_token(services.store, role="editor", name="desk", agency="A", now=services.clock())
    assert resolve(services.store, f"Bearer {plain}") == Actor("desk", "editor", "A", token.id)


def test_no_header_is_anonymous(services):
    assert resolve(services.store, None) is ANONYMOUS


@pytest.mark.parametrize("header", ["Bearer rw_unknown", "Basic abc", "Bearer ", "rw_token"])
def test_bad_headers_are_refused(services, header):
    with pytest.raises(Unauthenticated):
        resolve(services.store, header)


def test_a_revoked_token_stops_working_at_once(services):
    plain, token = create_token(services.store, role="admin", name="root", agency=None, now=services.clock())
    assert services.store.revoke_token(token.id, services.clock())
    with pytest.raises(Unauthenticated):
        resolve(services.store, f"Bearer {plain}")
    assert not services.store.revoke_token(token.id, services.clock())


@pytest.mark.parametrize("role, agency, name, field", [
    ("editor", None, "desk", "agency"), ("owner", "A", "desk", "role"), ("admin", None, "", "name")])
def test_token_rules(services, role, agency, name, field):
    with pytest.raises(ValidationFailed) as failure:
        create_token(services.store, role=role, name=name, agency=agency, now=services.clock())
    assert field in failure.value.errors


def test_editors_write_only_their_agency_and_admins_everything():
    editor = Actor("desk", "editor", "A", 1)
    assert editor.may_write("A") and not editor.may_write("B")
    assert Actor("root", "admin", None, 2).may_write("B")
    assert not Actor("partner", "partner", "A", 3).may_write("A")
    with pytest.raises(Forbidden):
        editor.require_write("B")
    with pytest.raises(Unauthenticated):
        ANONYMOUS.require_write("A")


def test_hash_is_sha256_hex():
    assert hash_token("x") == hashlib.sha256(b"x").hexdigest()

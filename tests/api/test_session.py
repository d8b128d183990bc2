"""The desk's sign-in: a token exchanged for a session cookie; CSRF and Origin on every write made with it."""

from __future__ import annotations

import pytest

from roadworks.api.session import COOKIE, CSRF_HEADER

ORIGIN = {"Origin": "http://localhost"}
PROJECT = {"name": "东关大街燃气管网提升改造项目"}


def sign_in(client, token):
    answer = client.post("/desk/session", json={"token": token}, headers=ORIGIN)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()["csrf_token"]


def projects(services):
    return len(services.registry.projects())


def test_sign_in_sets_a_strict_http_only_cookie_and_writes_need_the_csrf_token(client, editor_token, services):
    answer = client.post("/desk/session", json={"token": editor_token}, headers=ORIGIN)
    cookie = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith(f"{COOKIE}="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    assert answer.get_json()["name"] == "Construction bureau desk"
    csrf = answer.get_json()["csrf_token"]
    made = client.post("/api/v1/projects", json=PROJECT, headers={**ORIGIN, CSRF_HEADER: csrf})
    assert made.status_code == 201
    assert made.get_json()["agency"] == "西宁市城乡建设局"


def test_the_cookie_is_secure_behind_https(client, editor_token):
    answer = client.post("/desk/session", json={"token": editor_token},
                         headers={"Origin": "https://localhost"}, base_url="https://localhost")
    assert all("Secure" in c for c in answer.headers.getlist("Set-Cookie"))


@pytest.mark.parametrize("token", ["rw_wrong", "", None])
def test_sign_in_with_a_bad_token_fails_and_sets_no_cookie(client, token):
    answer = client.post("/desk/session", json={"token": token}, headers=ORIGIN)
    assert answer.status_code in (400, 401)
    assert answer.mimetype == "application/problem+json"
    assert not any(c.startswith(f"{COOKIE}=") for c in answer.headers.getlist("Set-Cookie"))


def test_a_partner_token_cannot_sign_in(client, services):
    from roadworks.auth import create_token
    plain, _ = create_token(services.store, role="partner", name="taxi", agency=None, now=services.clock())
    assert client.post("/desk/session", json={"token": plain}, headers=ORIGIN).status_code == 401


def test_sign_in_from_another_origin_is_refused(client, editor_token):
    answer = client.post("/desk/session", json={"token": editor_token}, headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403
    assert "Origin" in answer.get_json()["errors"]


@pytest.mark.parametrize("headers", [
    {**ORIGIN},  # no CSRF token
    {**ORIGIN, CSRF_HEADER: "forged"},
    {"Origin": "https://evil.example", CSRF_HEADER: "the right one"},
    {CSRF_HEADER: "the right one"},  # no Origin
    {**ORIGIN, "Sec-Fetch-Site": "cross-site", CSRF_HEADER: "the right one"},
])
def test_a_write_without_the_token_or_from_elsewhere_changes_nothing(client, editor_token, services, headers):
    csrf = sign_in(client, editor_token)
    headers = {k: (csrf if v == "the right one" else v) for k, v in headers.items()}
    answer = client.post("/api/v1/projects", json=PROJECT, headers=headers)
    assert answer.status_code == 403
    assert projects(services) == 0


def test_reads_with_the_desk_header_see_the_agencys_drafts_privately(client, editor_token, auth, clock):
    csrf = sign_in(client, editor_token)
    project = client.post("/api/v1/projects", json=PROJECT, headers={**ORIGIN, CSRF_HEADER: csrf}).get_json()["id"]
    draft = {"type": "Feature", "geometry": {"type": "LineString",
                                             "coordinates": [[101.7905, 36.6116], [101.7975, 36.6113]]},
             "properties": {"project": project, "road": "东关大街", "publish_at": "2024-12-01",
                            "schedule": {"windows": [{"start": "2024-09-01"}]}}}
    assert client.post("/api/v1/closures", json=draft, headers={**ORIGIN, CSRF_HEADER: csrf}).status_code == 201
    desk = client.get("/api/v1/closures?status=all", headers={CSRF_HEADER: csrf})
    assert len(desk.get_json()["features"]) == 1
    assert desk.headers["Cache-Control"].startswith("private")
    # The residents' map in the same browser sends the cookie but not the header: it reads what anyone reads.
    public = client.get("/api/v1/closures?status=all")
    assert public.get_json()["features"] == []


def test_a_session_expires_with_the_clock(make_app, editor_token, clock, services):
    client = make_app(DESK_SESSION_MINUTES=30).test_client()
    csrf = sign_in(client, editor_token)
    clock.advance(minutes=29)
    assert client.get("/desk/session").get_json()["signed_in"] is True
    clock.advance(minutes=2)
    assert client.get("/desk/session").get_json() == {"signed_in": False}
    answer = client.post("/api/v1/projects", json=PROJECT, headers={**ORIGIN, CSRF_HEADER: csrf})
    assert answer.status_code == 401
    assert projects(services) == 0


def test_revoking_the_token_ends_its_sessions_at_once(client, editor_token, services):
    csrf = sign_in(client, editor_token)
    token = next(t for t in services.store.tokens() if t.name == "Construction bureau desk")
    services.store.revoke_token(token.id, services.clock())
    assert client.post("/api/v1/projects", json=PROJECT, headers={**ORIGIN, CSRF_HEADER: csrf}).status_code == 401
    assert client.get("/desk/session").get_json() == {"signed_in": False}
    assert projects(services) == 0


def test_sign_out_ends_the_session_on_the_server(client, editor_token, services):
    from roadworks.store.sessions import Sessions
    csrf = sign_in(client, editor_token)
    assert Sessions(services.store.engine).count() == 1
    assert client.delete("/desk/session", headers=ORIGIN).status_code == 403  # sign-out needs the token too
    assert client.delete("/desk/session", headers={**ORIGIN, CSRF_HEADER: csrf}).status_code == 204
    assert Sessions(services.store.engine).count() == 0


def test_a_kept_cookie_is_useless_after_sign_out(client, editor_token, services):
    csrf = sign_in(client, editor_token)
    value = client.get_cookie(COOKIE).value
    client.delete("/desk/session", headers={**ORIGIN, CSRF_HEADER: csrf})
    client.set_cookie(COOKIE, value)
    assert client.post("/api/v1/projects", json=PROJECT, headers={**ORIGIN, CSRF_HEADER: csrf}).status_code in (401, 403)
    assert projects(services) == 0


def test_bearer_clients_are_unaffected_by_csrf(client, editor_token, auth, services):
    assert client.post("/api/v1/projects", json=PROJECT, headers=auth(editor_token)).status_code == 201


def test_the_secret_key_is_generated_once_and_kept(tmp_path):
    from roadworks.api.session import kept_secret
    first = kept_secret(tmp_path)
    assert len(first) > 40 and kept_secret(tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0

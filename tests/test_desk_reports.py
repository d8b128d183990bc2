"""The bureau answers a resident's report from the desk's queue (Chromium, Playwright, a live server)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from tests.test_desk import api_closure, api_project, artifacts, browser, live, open_desk, sign_in  # noqa: F401

pytestmark = pytest.mark.system

TEXT = "<b>路已经通车了</b>，地图还显示封闭。"  # markup a resident typed must show as the characters typed
REPLY = "已核实，路段已于5月31日开放，地图已更新。"


def test_the_bureau_resolves_a_residents_report_and_the_resident_sees_the_reply(
        open_desk, live, editor_token, client, auth, artifacts):  # noqa: F811
    closure = api_closure(client, auth, editor_token, api_project(client, auth, editor_token))
    filed = client.post("/api/v1/reports", json={"closure": closure, "kind": "open-but-shown-closed", "text": TEXT,
                                                 "contact": "13912345678"})
    assert filed.status_code == 201, filed.get_json()
    report, key = filed.get_json()["id"], filed.get_json()["key"]
    # A neighbour says the same soon after: one problem, a group of two.
    second = client.post("/api/v1/reports", json={"closure": closure, "kind": "open-but-shown-closed",
                                                  "text": "早就通车了"})
    assert second.status_code == 201, second.get_json()

    page = open_desk()
    sign_in(page, editor_token)
    page.locator("#nav").get_by_role("link", name="Reports").click()
    row = page.locator(f"tr[data-report-id='{report}']")
    expect(row).to_contain_text("new")
    expect(row.locator(".report-text")).to_have_text(TEXT)  # as text: no <b> element was made
    assert row.locator("b").count() == 0
    expect(row).to_contain_text("东关大街（乐都路—共和路）")
    expect(row.locator(".group-many")).to_have_text("2 reports")
    expect(page.locator("tbody tr")).to_have_count(2)
    page.get_by_label("One row per group").check()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr .group-many")).to_have_text("2 reports")
    page.get_by_label("One row per group").uncheck()
    row = page.locator(f"tr[data-report-id='{report}']")
    page.screenshot(path=artifacts / "20-reports-queue.png", full_page=True)

    row.get_by_role("link", name="Open, but shown as closed").press("Enter")  # keyboard reaches the report
    expect(page.locator(".report-facts")).to_contain_text("13912345678")  # the bureau sees the contact
    expect(page.locator("#report-map .leaflet-interactive")).to_have_count(2)  # the closure's line and the point
    page.get_by_label("Public reply (the resident sees it)", exact=True).fill(REPLY)
    page.get_by_role("button", name="Resolve", exact=True).click()
    expect(page.locator("#flash")).to_have_text("Report updated")
    history = page.locator(".report-history")
    expect(history.locator("> li")).to_have_count(2)
    expect(history.locator("> li").first).to_contain_text("resolved")
    expect(history.locator("> li").first).to_contain_text("Construction bureau desk")
    expect(page.get_by_role("button", name="Resolve", exact=True)).to_have_count(0)  # a settled report stays settled
    page.screenshot(path=artifacts / "21-report-resolved.png", full_page=True)
    page.goto(f"{live}/desk/#reports?state=resolved")  # Chinese by default, the session still open
    expect(page.locator("#nav")).to_contain_text("居民报告")
    expect(page.locator(f"tr[data-report-id='{report}']")).to_contain_text("已通车但地图显示封闭")
    expect(page.locator(f"tr[data-report-id='{report}'] .report-resolved")).to_have_text("已解决")
    page.screenshot(path=artifacts / "22-reports-zh.png", full_page=True)

    seen = client.get(f"/api/v1/reports/{report}", query_string={"key": key}).get_json()
    assert (seen["state"], seen["reply"], seen["text"]) == ("resolved", REPLY, TEXT)
    assert "contact" not in seen


# 14:00 on 31 May in New York is already 02:00 on 1 June in Xining.
NEW_YORK_31_MAY = datetime(2024, 5, 31, 18, 0, tzinfo=timezone.utc)


def test_a_new_york_projects_reports_show_new_york_times_on_the_desk(
        open_desk, editor_token, client, auth, clock, artifacts):  # noqa: F811
    """The queue, the report and its history read the report's project's zone, not Xining's."""
    body = {"name": "Second Avenue water main", "timezone": "America/New_York"}
    project = client.post("/api/v1/projects", json=body, headers=auth(editor_token)).get_json()["id"]
    closure = api_closure(client, auth, editor_token, project)
    clock.now = NEW_YORK_31_MAY
    filed = client.post("/api/v1/reports", json={"closure": closure, "kind": "open-but-shown-closed",
                                                 "text": "Open since this morning"})
    assert filed.status_code == 201, filed.get_json()
    report = filed.get_json()["id"]

    page = open_desk(clock=NEW_YORK_31_MAY)
    sign_in(page, editor_token)
    page.locator("#nav").get_by_role("link", name="Reports").click()
    row = page.locator(f"tr[data-report-id='{report}']")
    expect(row.locator("td").last).to_have_text("31/05/2024, 14:00")  # received at 14:00 New York time

    row.get_by_role("link", name="Open, but shown as closed").click()
    expect(page.locator(".report-facts")).to_contain_text("31/05/2024, 14:00")
    clock.now = NEW_YORK_31_MAY + timedelta(hours=7)  # 21:00 in New York, 09:00 on 1 June in Xining
    page.get_by_label("Public reply (the resident sees it)", exact=True).fill("Reopened; the map is updated.")
    page.get_by_role("button", name="Resolve", exact=True).click()
    expect(page.locator("#flash")).to_have_text("Report updated")
    history = page.locator(".report-history > li")
    expect(history).to_have_count(2)
    expect(history.first).to_contain_text("31/05/2024, 21:00")
    expect(history.last).to_contain_text("31/05/2024, 14:00")
    expect(history.last).to_contain_text("none given")  # filed without a contact: said in words, not "false"
    expect(history.last).not_to_contain_text("false")
    page.screenshot(path=artifacts / "23-a-new-york-report.png", full_page=True)

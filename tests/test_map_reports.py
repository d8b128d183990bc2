"""Residents' reports from the map (static/map/report.js) in a real browser: report, the bureau answers, see it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.test_map import DESKTOP, GONGHE, PHONE, browser, live, open_page, wait_until_drawn  # noqa: F401

pytestmark = pytest.mark.system
CONTACT = "13912345678"


def answer_all(client, auth, token, reply: str) -> list[dict]:
    """The bureau resolves every new report in its queue with a public reply, through the API."""
    queue = client.get("/api/v1/reports?state=new", headers=auth(token)).json["reports"]
    for report in queue:
        etag = client.get(f"/api/v1/reports/{report['id']}", headers=auth(token)).headers["ETag"]
        response = client.patch(f"/api/v1/reports/{report['id']}", json={"state": "resolved", "reply": reply},
                                headers=auth(token, If_Match=etag))
        assert response.status_code == 200, response.json
    return queue


def test_a_resident_reports_from_a_phone_and_reads_the_bureau_s_answer(open_page, client, auth, editor_token):
    page = open_page(f"?at=2024-05-20T12:00&closure={GONGHE}", viewport=PHONE)
    card = page.locator(".rw-report-card")
    expect(card.locator(".rw-report-counts")).to_have_text("暂无居民报告")
    card.get_by_role("button", name="报告问题").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("报告问题：东关大街")
    dialog.get_by_label("路已通行，地图却显示封闭").check()
    dialog.get_by_label("请描述您看到的情况").fill("<b>路已经通车</b>，地图还显示封闭。")
    dialog.get_by_label("联系电话或电子邮箱（选填）").fill(CONTACT)
    dialog.get_by_role("button", name="提交").click()
    expect(dialog.get_by_role("status")).to_contain_text("已提交")
    dialog.get_by_role("button", name="OK").click()
    expect(dialog).to_be_hidden()

    queue = answer_all(client, auth, editor_token, "已核实：路段已于5月31日开放，地图已更新。")
    assert [(r["closure"], r["kind"], r["contact"], r["text"]) for r in queue] == [
        (GONGHE, "open-but-shown-closed", "+86" + CONTACT, "<b>路已经通车</b>，地图还显示封闭。")]

    page.reload()
    wait_until_drawn(page)
    mine = page.locator(".rw-my-report")
    expect(mine).to_have_count(1)
    expect(mine.locator(".rw-my-report-state")).to_have_text("已解决")
    expect(mine.locator(".rw-my-report-reply")).to_contain_text("已核实：路段已于5月31日开放，地图已更新。")
    expect(page.locator(".rw-report-counts")).to_have_text("居民报告：0 条待处理，1 条已答复")
    assert CONTACT not in page.content()
    assert "<b>" not in page.locator(".rw-my-reports").inner_html().replace("&lt;b&gt;", "")


def test_a_point_is_reported_by_keyboard_in_english(open_page, client, auth, admin_token):
    page = open_page("?at=2024-05-20T12:00&lang=en", viewport=DESKTOP)
    page.get_by_role("button", name="Report a problem at the map's centre").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Report a problem at this point on the map")
    expect(dialog.get_by_label("The road is open but the map shows it closed")).to_be_focused()
    page.keyboard.press("ArrowDown")  # the radio group moves and checks with the arrows
    expect(dialog.get_by_label("The road is closed but no work is going on")).to_be_checked()
    page.keyboard.press("Tab")
    page.keyboard.type("Barriers up, nobody working for a week.")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # past the optional contact, over the hidden trap field, to Send
    expect(dialog.get_by_role("button", name="Send")).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog.get_by_role("status")).to_contain_text("Sent")
    queue = client.get("/api/v1/reports", headers=auth(admin_token)).json["reports"]
    assert [(r["kind"], r["point"]["type"], r["contact"]) for r in queue] == [("closed-but-no-works", "Point", None)]
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator(".rw-my-report-state")).to_have_text("Sent, waiting")


def test_a_right_click_or_long_press_on_the_map_opens_the_form_for_that_point(open_page):
    page = open_page("?at=2024-05-20T12:00", viewport=DESKTOP)
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 3, box["y"] + box["height"] / 3, button="right")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("报告地图上这一点的问题")
    expect(page.locator(".rw-report-marker")).to_have_count(1)
    dialog.get_by_role("button", name="提交").click()
    expect(dialog.get_by_role("status")).to_have_text("请选择情况类型。")
    dialog.get_by_role("button", name="取消").click()
    expect(page.locator(".rw-report-marker")).to_have_count(0)


def test_escape_closes_the_form_and_keeps_the_closure_s_card(open_page):
    page = open_page(f"?at=2024-05-20T12:00&closure={GONGHE}&lang=en", viewport=PHONE)
    button = page.locator(".rw-report-card").get_by_role("button", name="Report a problem")
    button.click()
    expect(page.get_by_role("dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.locator("#details")).to_be_visible()
    expect(button).to_be_focused()

"""The residents' map in a real browser: Debian's headless Chromium, driven by Playwright, against a live server."""

from __future__ import annotations

import re
import struct
import zlib
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browsers import artifacts_folder, chromium, served

pytestmark = pytest.mark.system

# Never reached: each test answers or fails the tile requests itself, so no test touches the network.
TILE_URL = "https://tiles.invalid/{z}/{x}/{y}.png"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
NOW = datetime(2024, 5, 20, 4, 0, tzinfo=timezone.utc)  # the `clock` fixture's now: 12:00 in Xining
WRONG_PHONE = datetime(2025, 11, 2, 9, 30, tzinfo=timezone.utc)  # a browser clock far from the service's
GONGHE, NANXIAO, YANGJIA = "dongguan-ledu-gonghe", "dongguan-ledu-nanxiao", "dongguan-yangjia-jianguo"

# The founding case at the scenario's instants (Asia/Shanghai): which line has which status. 乐都路-共和路,
# reopened on 31 May, is left out from a week later on (test_closures_reopened_long_ago_are_hidden_unless_asked).
DEMO_DATES = {
    "2024-05-20T12:00": {GONGHE: "active", NANXIAO: "upcoming", YANGJIA: "upcoming"},
    "2024-07-15T12:00": {NANXIAO: "upcoming", YANGJIA: "upcoming"},
    "2024-09-02T12:00": {NANXIAO: "active", YANGJIA: "active"},
}
LOOKS = 5  # active, partial, paused, upcoming, completed

LINE_STATE = """() => Object.fromEntries([...document.querySelectorAll("path.rw-line[data-closure-id]")].map(p => {
  const style = getComputedStyle(p);
  return [p.dataset.closureId, {status: p.dataset.status, look: p.dataset.look, stroke: style.stroke,
                                dash: style.strokeDasharray,
                                selected: p.classList.contains("selected")}];
}))"""
LEGEND_STYLE = """() => Object.fromEntries([...document.querySelectorAll(".rw-legend path.rw-line")].map(p => {
  const style = getComputedStyle(p);
  return [p.getAttribute("class").match(/status-([\\w-]+)/)[1], {stroke: style.stroke, dash: style.strokeDasharray}];
}))"""


def plain_tile() -> bytes:
    """A 256x256 PNG of one land colour: a base map that loads, without a tile server."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes((242, 239, 233)) * 256 for _ in range(256))
    header = struct.pack(">IIBBBBB", 256, 256, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


TILE = plain_tile()


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def artifacts() -> Path:
    return artifacts_folder("map")


@pytest.fixture
def live(app, demo):
    """The test app, with the demo loaded, served over HTTP on a free port."""
    demo.settings["TILE_URL"] = TILE_URL
    with served(app) as url:
        yield url


@pytest.fixture
def open_page(browser, live):
    """open_page(query, viewport=..., tiles="plain"|"fail", clock=None) -> a page showing the map, ready."""
    contexts, problems = [], []

    def open_(query: str = "", *, viewport=DESKTOP, tiles: str = "plain", clock: datetime | None = None):
        """tiles: "plain" (served), "fail" (refused at once) or "hang" (never answered, as a blocked server)."""
        # Reduced motion: the page then moves the map without animation, so each step is done when it returns.
        context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai",
                                      reduced_motion="reduce")
        contexts.append(context)
        page = context.new_page()
        page.asked = []  # every URL the page requested, in order
        page.on("request", lambda request: page.asked.append(request.url))
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", lambda message: "Content Security Policy" in message.text
                and problems.append(f"CSP: {message.text}"))
        route_tiles(page, tiles)
        if clock is not None:
            page.clock.install(time=clock)
        page.goto(f"{live}/map/{query}")
        wait_until_drawn(page)
        return page

    open_.problems = problems
    yield open_
    for context in contexts:
        context.close()
    assert problems == []


def route_tiles(page, tiles: str) -> None:
    page.unroute("https://tiles.invalid/**")
    if tiles == "plain":
        page.route("https://tiles.invalid/**", lambda route: route.fulfill(body=TILE, content_type="image/png"))
    elif tiles == "fail":
        page.route("https://tiles.invalid/**", lambda route: route.abort())
    else:
        page.route("https://tiles.invalid/**", lambda route: None)  # left unanswered


def wait_until_drawn(page):
    """Until the page has drawn and no refresh is under way or due."""
    expect(page.locator("#when-text")).not_to_be_empty()
    expect(page.locator("body")).to_have_attribute("data-busy", "0")  # (wait_for_function would need eval)


def lines(page) -> dict:
    return page.evaluate(LINE_STATE)


def query_of(page) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


# ---------------------------------------------------------------- the founding case at three dates

@pytest.mark.parametrize("at", list(DEMO_DATES))
def test_demo_dates_draw_each_closure_with_its_status(open_page, artifacts, at):
    page = open_page(f"?at={at}")
    drawn = lines(page)
    assert {id: line["status"] for id, line in drawn.items()} == DEMO_DATES[at]
    legend = page.evaluate(LEGEND_STYLE)
    for line in drawn.values():  # the legend's colour and dashes, so the legend tells the truth
        assert (line["stroke"], line["dash"]) == (legend[line["look"]]["stroke"], legend[line["look"]]["dash"])
    assert len({(s["stroke"], s["dash"]) for s in legend.values()}) == LOOKS
    assert len({s["dash"] for s in legend.values()}) == LOOKS  # told apart without colour, too
    entries = page.locator(".rw-entry")
    assert sorted(entries.evaluate_all("es => es.map(e => e.dataset.closureId)")) == sorted(DEMO_DATES[at])
    page.screenshot(path=artifacts / f"demo-{at[:10]}-desktop.png")
    phone = open_page(f"?at={at}", viewport=PHONE)
    phone.screenshot(path=artifacts / f"demo-{at[:10]}-phone.png")
    phone.click("#sheet-toggle")
    phone.screenshot(path=artifacts / f"demo-{at[:10]}-phone-list.png")


def test_20_may_shows_ledu_gonghe_closed_until_its_early_reopening(open_page):
    page = open_page("?at=2024-05-20T12:00")
    expect(page.locator("#when-text")).to_contain_text("2024年5月20日")
    entry = page.locator(f'.rw-entry[data-closure-id="{GONGHE}"]')
    expect(entry).to_contain_text("封闭中，2024年5月31日起恢复通行")
    expect(page.locator("#summary")).to_have_text("地图范围内 3 处 · 1 处正在封闭")


def test_15_july_tells_of_the_tourist_season_pause(open_page):
    page = open_page("?at=2024-07-15T12:00")
    notes = page.locator("#pause-notes")
    expect(notes).to_be_visible()
    expect(notes).to_contain_text("旅游旺季暂停施工")
    expect(notes).to_contain_text("2024年6月1日 至 2024年8月31日")
    expect(page.locator(f'.rw-entry[data-closure-id="{NANXIAO}"]')).to_contain_text("2024年9月1日起封闭")


def test_a_paused_closure_has_its_own_look(open_page, add_closure):
    add_closure("spans-the-pause", schedule={"windows": [{"start": "2024-04-01", "end": "2024-10-31"}]},
                geometry={"type": "LineString", "coordinates": [[101.7975, 36.6113], [101.8030, 36.6112]]},
                **{"from": "共和路", "to": "杨家三巷"})
    page = open_page("?at=2024-07-15T12:00")
    drawn, legend = lines(page), page.evaluate(LEGEND_STYLE)
    assert drawn["spans-the-pause"]["status"] == "paused"
    assert (drawn["spans-the-pause"]["stroke"], drawn["spans-the-pause"]["dash"]) == \
        (legend["paused"]["stroke"], legend["paused"]["dash"])
    assert drawn["spans-the-pause"]["dash"] != drawn[NANXIAO]["dash"]
    entry = page.locator('.rw-entry[data-closure-id="spans-the-pause"]')
    expect(entry).to_contain_text("暂停施工、可通行，2024年9月1日起恢复施工")
    assert "暂停施工，可通行" in entry.get_attribute("aria-label")


def test_now_shows_the_roads_as_they_are(open_page):
    page = open_page("", clock=NOW)
    expect(page.locator("#when-text")).to_contain_text("现在（2024年5月20日周一 12:00）")
    assert lines(page)[GONGHE]["status"] == "active"
    assert page.locator('[data-quick="now"]').get_attribute("aria-pressed") == "true"


def test_quick_choice_and_date_picker_change_the_picture(open_page):
    page = open_page("?at=2024-05-20T12:00")
    page.fill("#at", "2024-09-02T12:00")
    page.dispatch_event("#at", "change")
    expect(page.locator(f'path.rw-line[data-closure-id="{NANXIAO}"]')).to_have_attribute("data-status", "active")
    assert query_of(page)["at"] == "2024-09-02T12:00"
    page.click('[data-quick="now"]')
    expect(page.locator(f'path.rw-line[data-closure-id="{NANXIAO}"]')).to_have_attribute("data-status", "upcoming")
    assert "at" not in query_of(page)
    page.click('[data-quick="tomorrow"]')
    assert query_of(page)["at"]  # a day from the service's now
    assert page.locator('[data-quick="tomorrow"]').get_attribute("aria-pressed") == "true"


def test_now_and_the_quick_choices_follow_the_services_clock_not_the_browsers(open_page):
    page = open_page("", clock=WRONG_PHONE)  # the service's clock is at NOW, as in a replay of the founding case
    expect(page.locator("#when-text")).to_contain_text("现在（2024年5月20日周一 12:00）")
    expect(page.locator("#at")).to_have_value("2024-05-20T12:00")  # the picker's default
    page.click('[data-quick="tomorrow"]')
    expect(page.locator("#at")).to_have_value("2024-05-21T12:00")
    assert query_of(page)["at"] == "2024-05-21T12:00"
    wait_until_drawn(page)
    asked = [parse_qs(urlsplit(url).query).get("at") for url in page.asked if "/api/v1/closures?" in url]
    assert asked[-1] == ["2024-05-21T12:00:00+08:00"]
    assert {id: line["status"] for id, line in lines(page).items()} == \
        {GONGHE: "active", NANXIAO: "upcoming", YANGJIA: "upcoming"}  # the scenario's statuses that day
    page.click('[data-quick="week"]')
    expect(page.locator("#at")).to_have_value("2024-05-27T12:00")


# ---------------------------------------------------------------- list, details, map

def test_at_city_zoom_a_road_shows_a_count_instead_of_lines(open_page):
    page = open_page("?at=2024-05-20T12:00&map=11/36.61140/101.79725")
    count = page.locator(".rw-count")
    expect(count).to_have_count(1)  # the three closures of 东关大街 as one marker; the completed none
    expect(count).to_have_text("3")
    expect(count).to_have_class(re.compile(r"\bstatus-active\b"))  # its most pressing status
    assert count.get_attribute("aria-label") == "东关大街：3 处，放大查看"
    assert lines(page) == {}
    count.click()
    wait_until_drawn(page)
    assert {id: line["status"] for id, line in lines(page).items()} == DEMO_DATES["2024-05-20T12:00"]


def test_choosing_a_list_entry_zooms_to_it_and_opens_its_details(open_page):
    page = open_page("?at=2024-05-20T12:00")
    zoom_before = int(query_of(page)["map"].split("/")[0])
    page.click(f'.rw-entry[data-closure-id="{GONGHE}"]')
    details = page.locator("#details")
    expect(details).to_be_visible()
    expect(page.locator("#details-title")).to_have_text("东关大街")
    for text in ("乐都路 至 共和路", "封闭中", "封闭中，2024年5月31日起恢复通行", "全封闭", "双向", "历经49天",
                 "请绕行周边道路", "2024年4月12日 至 2024年6月4日", "乐都路至共和路段施工",
                 "东关大街燃气管网提升改造项目", "西宁市城乡建设局", "12345 政务服务便民热线", "信息更新"):
        expect(details).to_contain_text(text)
    # The summer pause begins 1 June; this stretch reopened on 31 May, so the pause is none of its news.
    expect(details).not_to_contain_text("旅游旺季暂停施工")
    expect(details.locator("a.rw-contact")).to_have_attribute("href", "tel:12345")
    road = re.escape("/feeds/closures.ics?road=%E4%B8%9C%E5%85%B3%E5%A4%A7%E8%A1%97")
    expect(details.locator("a.rw-subscribe")).to_have_attribute("href", re.compile(rf"^webcal://127\.0\.0\.1:\d+{road}$"))
    expect(page.locator(f'path.rw-line[data-closure-id="{GONGHE}"]')).to_have_class(re.compile(r"\bselected\b"))
    assert query_of(page)["closure"] == GONGHE
    expect(page).to_have_url(re.compile(r"map=1[6-7]%2F"))
    assert int(query_of(page)["map"].split("/")[0]) > zoom_before
    page.click("#back")
    expect(page.locator("#list-view")).to_be_visible()
    assert "closure" not in query_of(page)


def test_details_compare_the_plan_with_what_happened(open_page):
    page = open_page(f"?at=2024-06-03T12:00&closure={GONGHE}")
    details = page.locator("#details")
    expect(details).to_contain_text("已恢复通行")
    expect(details).to_contain_text("2024年5月31日起已恢复通行")
    expect(details).to_contain_text("较原定计划提前 5 天恢复通行")


def test_the_early_reopening_is_not_news_before_it_happened(open_page):
    page = open_page(f"?at=2024-05-20T12:00&closure={GONGHE}")
    expect(page.locator("#details")).to_contain_text("封闭中，2024年5月31日起恢复通行")
    expect(page.locator("#details .rw-plan")).to_have_count(0)
    expect(page.locator("#details dd").filter(has_text="开工")).to_have_text("2024年4月12日开工")


def test_tapping_a_line_opens_its_details(open_page):
    page = open_page("?at=2024-09-02T12:00")
    page.locator(f'path.rw-hit[data-closure-id="{YANGJIA}"]').click()
    expect(page.locator("#details-title")).to_have_text("东关大街")
    expect(page.locator("#details")).to_contain_text("杨家三巷 至 建国大街")
    expect(page.locator("#details")).to_contain_text("封闭中，结束时间另行通知")


def test_lines_and_list_work_with_a_keyboard(open_page):
    page = open_page("?at=2024-09-02T12:00")
    hit = page.locator(f'path.rw-hit[data-closure-id="{NANXIAO}"]')
    assert hit.get_attribute("role") == "button" and hit.get_attribute("tabindex") == "0"
    assert "乐都路 至 南小街" in hit.get_attribute("aria-label")
    hit.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#details")).to_contain_text("乐都路 至 南小街")
    page.keyboard.press("Escape")
    expect(page.locator("#list-view")).to_be_visible()
    entry = page.locator(f'.rw-entry[data-closure-id="{NANXIAO}"]')
    assert entry.evaluate("e => e.tagName") == "BUTTON"
    assert "乐都路 至 南小街" in entry.get_attribute("aria-label")
    entry.focus()
    page.keyboard.press("Enter")
    # The document's active element, not Playwright's to_be_focused: that also needs the browser window to
    # hold the system focus, which another browser on a busy machine (a parallel test run) can take.
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'details-title'",
                           timeout=5000)


def test_search_finds_roads_by_name(open_page, add_closure):
    add_closure("nanxiao-street", road="南小街", geometry={
        "type": "LineString", "coordinates": [[101.7860, 36.6118], [101.7861, 36.6090]]},
        **{"from": "东关大街", "to": "西大街"})
    page = open_page("?at=2024-05-20T12:00")
    assert page.locator(".rw-road-name").all_inner_texts() == ["东关大街", "南小街"]
    page.fill("#search", "西大")
    expect(page.locator(".rw-road-name")).to_have_text(["南小街"])
    page.fill("#search", "不存在的路")
    expect(page.locator(".rw-empty")).to_have_text("没有与“不存在的路”相关的路段。")
    page.fill("#search", "")
    expect(page.locator(".rw-road-name")).to_have_count(2)


def test_english_is_one_tap_away(open_page):
    page = open_page("?at=2024-05-20T12:00")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    page.click("#lang")
    expect(page.locator("h1")).to_have_text("Road closures")
    assert page.evaluate("document.documentElement.lang") == "en"
    expect(page.locator(f'.rw-entry[data-closure-id="{GONGHE}"]')).to_contain_text("Closed; reopens 31 May 2024")
    expect(page.locator(".rw-legend")).to_contain_text("Works paused, open")
    expect(page.locator("#lang")).to_have_text("中文")
    assert query_of(page)["lang"] == "en"
    page.click("#lang")
    expect(page.locator("h1")).to_have_text("道路施工封闭")
    assert "lang" not in query_of(page)


def test_a_shared_address_opens_the_same_picture(open_page):
    page = open_page("?at=2024-05-20T12:00&lang=en")
    page.click('[data-quick="now"]')
    page.fill("#at", "2024-09-02T08:30")
    page.dispatch_event("#at", "change")
    page.click(f'.rw-entry[data-closure-id="{NANXIAO}"]')
    expect(page.locator("#details")).to_contain_text("Closed until further notice")
    wait_until_drawn(page)
    shared = page.url
    assert {"at": "2024-09-02T08:30", "closure": NANXIAO, "lang": "en"}.items() <= query_of(page).items()

    other = open_page(shared[shared.index("/map/") + len("/map/"):])
    expect(other.locator("#details")).to_contain_text("Closed until further notice")
    expect(other.locator("#details-title")).to_have_text("东关大街")
    assert other.input_value("#at") == "2024-09-02T08:30"
    assert query_of(other) == query_of(page)  # the same view: nothing was refitted
    assert lines(other)[NANXIAO]["selected"]


# ---------------------------------------------------------------- a phone

def test_a_360_pixel_screen_gets_the_map_and_a_bottom_sheet(open_page, artifacts):
    page = open_page("?at=2024-09-02T12:00", viewport=PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for selector in ("#lang", '[data-quick="week"]', "#at", "#sheet-toggle"):
        box = page.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], selector
    expect(page.locator("#list")).to_be_hidden()
    expect(page.locator("#sheet-toggle")).to_have_text(re.compile("地图范围内 2 处"))
    page.click("#sheet-toggle")
    expect(page.locator("#sheet-toggle")).to_have_attribute("aria-expanded", "true")
    page.click(f'.rw-entry[data-closure-id="{YANGJIA}"]')
    expect(page.locator("#details")).to_be_visible()
    wait_until_drawn(page)
    line = page.locator(f'path.rw-line[data-closure-id="{YANGJIA}"]').bounding_box()
    sheet = page.locator("#panel").bounding_box()
    assert line["x"] >= 0 and line["x"] + line["width"] <= PHONE["width"]
    assert line["y"] + line["height"] <= sheet["y"]  # the chosen line is above the sheet, not under it
    page.screenshot(path=artifacts / "phone-details-2024-09-02.png")


# ---------------------------------------------------------------- bureau text, failures

def test_markup_in_bureau_text_is_shown_literally_and_runs_nothing(open_page, add_closure):
    description = '<img src=x onerror="window.pwned = 1"><script>window.pwned = 2</script>'
    add_closure("markup", description=description, detour="<b>bold?</b>", road="<i>东关</i>大街")
    page = open_page("?at=2024-05-20T12:00&closure=markup")
    details = page.locator("#details")
    expect(details).to_contain_text(description)
    expect(details).to_contain_text("<b>bold?</b>")
    expect(page.locator("#details-title")).to_have_text("<i>东关</i>大街")
    expect(page.locator(".rw-road-name").filter(has_text="<i>东关</i>大街")).to_have_count(1)
    assert details.locator("img, script, b, i").count() == 0
    assert page.evaluate("window.pwned") is None


def test_the_page_forbids_inline_script(live, open_page):
    page = open_page("?at=2024-05-20T12:00")
    response = page.request.get(f"{live}/map/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "https://tiles.invalid" in policy and "frame-ancestors 'none'" in policy
    injected = page.evaluate("""() => { window.ran = false; const s = document.createElement("script");
        s.textContent = "window.ran = true"; document.body.append(s); return window.ran; }""")
    assert injected is False
    assert all("inline script" in problem for problem in open_page.problems)
    open_page.problems.clear()  # the one violation this test provoked on purpose


def test_without_tiles_the_closures_draw_on_a_plain_background(open_page, artifacts):
    page = open_page("?at=2024-09-02T12:00", tiles="fail")
    expect(page.locator("#notice-tiles")).to_be_visible()
    expect(page.locator("#notice-tiles")).to_have_text("底图暂时无法加载，封闭路段仍照常显示。")
    assert set(lines(page)) == {NANXIAO, YANGJIA}
    expect(page.locator("#map")).to_have_class(re.compile("rw-no-basemap"))
    expect(page.locator(".rw-place")).to_have_count(4)  # the cross streets name where the lines are
    page.screenshot(path=artifacts / "no-base-map-2024-09-02.png")


def test_with_tiles_there_is_no_base_map_message(open_page):
    page = open_page("?at=2024-09-02T12:00")
    expect(page.locator(".leaflet-tile-loaded").first).to_be_attached()
    expect(page.locator("#notice-tiles")).to_be_hidden()


def test_a_failed_api_call_shows_a_message_and_the_next_poll_recovers(open_page, add_closure):
    page = open_page("", clock=NOW)
    asked = []
    page.on("request", lambda r: "/api/v1/closures?" in r.url and asked.append(r.headers.get("if-none-match")))
    page.route("**/api/v1/closures?*", lambda route: route.abort())
    page.clock.fast_forward("01:01")
    expect(page.locator("#notice-api")).to_be_visible()
    assert set(lines(page)) == {GONGHE, NANXIAO, YANGJIA}  # the last picture stays

    page.unroute("**/api/v1/closures?*")
    add_closure("new-one", geometry={"type": "LineString", "coordinates": [[101.7975, 36.6113], [101.8030, 36.6112]]})
    page.clock.fast_forward("01:01")
    expect(page.locator("#notice-api")).to_be_hidden()
    expect(page.locator('path.rw-line[data-closure-id="new-one"]')).to_have_count(1)  # no reload needed
    assert asked and all(asked)  # every poll is conditional


def test_an_unchanged_poll_costs_a_304(open_page):
    page = open_page("", clock=NOW)
    page.clock.fast_forward(1000)  # any refresh still due after the first fit has run
    wait_until_drawn(page)
    with page.expect_response(lambda r: "/api/v1/closures?" in r.url) as answer:
        page.clock.fast_forward("01:01")
    assert answer.value.status == 304
    assert answer.value.request.headers["if-none-match"]
    expect(page.locator("#notice-api")).to_be_hidden()
    assert set(lines(page)) == {GONGHE, NANXIAO, YANGJIA}


def test_the_api_docs_run_under_the_page_policy_they_share_with_the_map(browser, live):
    """Swagger UI at /docs calls the API from "Try it out" under the map's strict policy (no inline style either),
    its one inline script allowed by hash, and the browser refuses it nothing."""
    context = browser.new_context()
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: "Content Security Policy" in message.text and problems.append(message.text))
    try:
        page.goto(f"{live}/docs")
        operation = page.locator(".opblock-get", has_text="/api/v1/projects").first
        operation.locator(".opblock-summary").click()
        operation.get_by_role("button", name="Try it out").click()
        operation.get_by_role("button", name="Execute").click()
        expect(operation.locator(".live-responses-table .response .response-col_status")).to_have_text("200")
    finally:
        context.close()
    assert problems == []


# ---------------------------------------------------------------- issue 12: the residents' map

TILE_ZOOM = re.compile(r"https://tiles\.invalid/(\d+)/")
# A stretch of 东关大街 east of 建国大街, clear of the demo's lines.
EAST = {"type": "LineString", "coordinates": [[101.8040, 36.6112], [101.8090, 36.6111]]}


def active_element(page) -> dict:
    return page.evaluate("""() => ({tag: document.activeElement.tagName, id: document.activeElement.id,
                                    closure: document.activeElement.dataset.closureId || null})""")


def api_requests(page, path: str) -> list[str]:
    return [url for url in page.asked if urlsplit(url).path == path]


def test_choosing_a_closure_and_a_time_are_history_entries_that_back_undoes(open_page):
    page = open_page("?at=2024-05-20T12:00")
    start = page.url
    page.click(f'.rw-entry[data-closure-id="{NANXIAO}"]')
    expect(page.locator("#details")).to_contain_text("乐都路 至 南小街")
    wait_until_drawn(page)
    page.fill("#at", "2024-09-02T12:00")
    page.dispatch_event("#at", "change")
    expect(page.locator("#details")).to_contain_text("封闭中，结束时间另行通知")
    wait_until_drawn(page)

    page.go_back()  # the time goes back, the closure stays chosen
    expect(page.locator("#at")).to_have_value("2024-05-20T12:00")
    expect(page.locator("#details")).to_contain_text("2024年9月1日起封闭")
    assert query_of(page)["at"] == "2024-05-20T12:00" and query_of(page)["closure"] == NANXIAO
    page.go_back()  # the list again, on the map: Back does not leave the site
    expect(page.locator("#list-view")).to_be_visible()
    expect(page.locator("#details")).to_be_hidden()
    assert "closure" not in query_of(page) and urlsplit(page.url).path == "/map/"
    assert urlsplit(page.url).path == urlsplit(start).path
    page.go_forward()
    expect(page.locator("#details")).to_contain_text("乐都路 至 南小街")
    assert lines(page)[NANXIAO]["selected"]
    page.click("#back")
    page.go_back()  # closing the card is undone too
    expect(page.locator("#details")).to_be_visible()


def test_a_blocked_tile_server_that_never_answers_still_gets_the_notice_and_labels(open_page, artifacts):
    page = open_page("?at=2024-09-02T12:00", tiles="hang", clock=NOW)
    expect(page.locator("#notice-tiles")).to_be_hidden()  # patience first: tiles may just be slow
    page.clock.fast_forward(7000)
    expect(page.locator("#notice-tiles")).to_be_visible()
    expect(page.locator(".rw-place")).to_have_count(4)
    assert page.locator("body").get_attribute("data-basemap") == "failed"
    page.screenshot(path=artifacts / "blocked-tile-server-2024-09-02.png")


def test_the_base_map_notice_and_labels_appear_on_every_navigation_in_a_tab(open_page, live):
    """Sixteen in-tab navigations with failing tiles, each asking for a different view, time or closure."""
    page = open_page("?at=2024-09-02T12:00", tiles="fail")
    queries = ["?at=2024-09-02T12:00", f"?at=2024-09-02T12:00&closure={YANGJIA}",
               "?at=2024-09-02T12:00&map=16/36.61140/101.79725", "?at=2024-09-02T12:00&map=17/36.61150/101.79300"]
    for number in range(16):
        page.goto(f"{live}/map/{queries[number % 4]}")
        wait_until_drawn(page)
        expect(page.locator("#notice-tiles"), f"navigation {number}").to_be_visible()
        expect(page.locator("#map")).to_have_class(re.compile("rw-no-basemap"))
        expect(page.locator(".rw-place").first, f"navigation {number}").to_be_attached()
        assert page.locator("body").get_attribute("data-basemap") == "failed"
    route_tiles(page, "plain")  # the server comes back: the next view's tiles load and the notice goes
    page.goto(f"{live}/map/{queries[0]}")
    wait_until_drawn(page)
    expect(page.locator("#notice-tiles")).to_be_hidden()
    expect(page.locator(".rw-place")).to_have_count(0)


def test_alternating_one_lane_traffic_has_its_own_look_and_legend_entry(open_page, add_closure, artifacts):
    add_closure("one-lane", geometry=EAST, impact="alternating", **{"from": "建国大街", "to": "八一路"})
    page = open_page("?at=2024-05-20T12:00")
    drawn, legend = lines(page), page.evaluate(LEGEND_STYLE)
    assert drawn["one-lane"]["status"] == "active" and drawn["one-lane"]["look"] == "partial"
    assert (drawn["one-lane"]["stroke"], drawn["one-lane"]["dash"]) == (legend["partial"]["stroke"],
                                                                         legend["partial"]["dash"])
    assert (drawn["one-lane"]["stroke"], drawn["one-lane"]["dash"]) != (drawn[GONGHE]["stroke"], drawn[GONGHE]["dash"])
    expect(page.locator(".rw-legend li").nth(1)).to_contain_text("部分封闭")
    entry = page.locator('.rw-entry[data-closure-id="one-lane"]')
    expect(entry).to_contain_text("部分通行")
    expect(entry).not_to_contain_text("封闭中")
    entry.click()
    expect(page.locator("#details .rw-badge")).to_have_text("单车道，双向交替通行")
    page.screenshot(path=artifacts / "partial-impact-2024-05-20.png")


def test_the_card_labels_the_plan_and_what_happened(open_page):
    page = open_page(f"?at=2024-06-03T12:00&closure={GONGHE}")
    facts = page.locator("#details .rw-facts")
    expect(facts.locator("dt")).to_contain_text(["原定施工时段", "实际"])
    expect(facts.locator("dt:text-is('原定施工时段') + dd")).to_contain_text("2024年4月12日 至 2024年6月4日")
    expect(facts.locator("dt:text-is('实际') + dd")).to_have_text("2024年4月12日开工，2024年5月31日起恢复通行")
    page.click("#lang")
    expect(facts.locator("dt:text-is('Actual') + dd")).to_have_text("works began 12 April 2024; reopened 31 May 2024")
    expect(facts.locator("dt")).to_contain_text(["Planned", "Actual"])


def test_search_finds_cross_streets_projects_and_descriptions_and_the_map_follows(open_page):
    page = open_page("?at=2024-09-02T12:00&map=18/36.62000/101.78000")  # zoomed in north of the works
    expect(page.locator(".rw-entry")).to_have_count(0)
    page.fill("#search", "建国大街")  # a cross street (to) of one closure
    expect(page.locator(".rw-entry")).to_have_count(1)
    expect(page.locator(f'.rw-entry[data-closure-id="{YANGJIA}"]')).to_be_visible()
    expect(page).not_to_have_url(re.compile(r"map=18%2F36\.62000%2F101\.78000"))  # the map moved to it
    wait_until_drawn(page)
    line = page.locator(f'path.rw-line[data-closure-id="{YANGJIA}"]').bounding_box()
    view = page.locator("#map").bounding_box()
    assert view["x"] <= line["x"] and line["x"] + line["width"] <= view["x"] + view["width"]
    assert view["y"] <= line["y"] and line["y"] + line["height"] <= view["y"] + view["height"]
    page.fill("#search", "燃气管网提升改造")  # the project's name
    expect(page.locator(".rw-entry")).to_have_count(2)
    page.fill("#search", "南小街")  # a cross street labelled on the map
    expect(page.locator(".rw-entry")).to_have_count(1)
    expect(page.locator(f'.rw-entry[data-closure-id="{NANXIAO}"]')).to_be_visible()
    page.fill("#search", "另行通知")  # the closure's description
    expect(page.locator(".rw-entry")).to_have_count(2)


def test_a_skip_link_is_the_first_tab_stop_and_leads_to_the_list(open_page):
    page = open_page("?at=2024-05-20T12:00")
    page.keyboard.press("Tab")
    assert active_element(page)["id"] == "skip"
    expect(page.locator("#skip")).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert active_element(page)["closure"]  # the first closure in the list, past the header and the map


def test_focus_stays_on_the_chosen_card_through_refreshes(open_page):
    page = open_page("?at=2024-05-20T12:00", clock=NOW)
    page.focus(f'.rw-entry[data-closure-id="{GONGHE}"]')
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'details-title'", timeout=5000)
    wait_until_drawn(page)
    page.clock.fast_forward("01:01")  # a poll redraws the card
    wait_until_drawn(page)
    assert active_element(page) == {"tag": "H2", "id": "details-title", "closure": None}  # not BODY


def test_an_active_closure_is_drawn_above_a_planned_one_on_the_same_street(open_page, add_closure):
    add_closure("later-same-stretch", schedule={"windows": [{"start": "2024-10-01", "end": "2024-10-31"}]})
    page = open_page(f"?at=2024-05-20T12:00&closure=later-same-stretch")
    order = page.evaluate("""() => [...document.querySelectorAll("path.rw-line")].map(p => p.dataset.closureId)""")
    assert order.index(GONGHE) > order.index("later-same-stretch")  # painted later: on top, even when chosen
    hits = page.evaluate("""() => [...document.querySelectorAll("path.rw-hit")].map(p => p.dataset.closureId)""")
    assert hits.index(GONGHE) > hits.index("later-same-stretch")


def test_closures_reopened_long_ago_are_hidden_unless_asked(open_page):
    page = open_page("?at=2024-06-03T12:00")  # three days after 乐都路-共和路 reopened: still news
    assert lines(page)[GONGHE]["status"] == "completed"
    page = open_page("?at=2024-06-08T12:00")  # eight days after
    assert GONGHE not in lines(page)
    expect(page.locator(f'.rw-entry[data-closure-id="{GONGHE}"]')).to_have_count(0)
    expect(page.locator("#old-count")).to_have_text("（已隐藏 1 处）")
    page.check("#show-old")
    expect(page.locator(f'path.rw-line[data-closure-id="{GONGHE}"]')).to_have_count(1)
    expect(page.locator(f'.rw-entry[data-closure-id="{GONGHE}"]')).to_contain_text("2024年5月31日起已恢复通行")
    assert query_of(page)["old"] == "1"
    shared = open_page("?at=2024-06-08T12:00&old=1")
    expect(shared.locator("#show-old")).to_be_checked()
    assert GONGHE in lines(shared)
    page.go_back()
    expect(page.locator(f'.rw-entry[data-closure-id="{GONGHE}"]')).to_have_count(0)


def test_hours_name_weekdays_and_overnight_ends_and_an_old_pause_is_not_listed(open_page, add_closure):
    add_closure("nights-2025", geometry=EAST, schedule={
        "windows": [{"start": "2025-03-01", "end": "2025-05-31"}],
        "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "22:00", "end": "06:00"},
                  {"days": ["sat", "sun"], "start": "09:00", "end": "17:00"}]})
    page = open_page("?at=2025-04-01T12:00&closure=nights-2025")
    facts = page.locator("#details .rw-facts")
    expect(facts.locator("dt")).to_contain_text(["施工时间"])
    expect(facts).to_contain_text("周一至周五 22:00–次日06:00")
    expect(facts).to_contain_text("周六、周日 09:00–17:00")
    expect(facts).not_to_contain_text("每日")
    expect(facts).not_to_contain_text("旅游旺季暂停施工")  # the project's 2024 pause cannot touch it
    expect(facts.locator("dt")).not_to_contain_text(["暂停施工"])
    page.click("#lang")
    expect(facts).to_contain_text("Mon–Fri 22:00–06:00 next day")


def test_a_summer_pause_is_listed_on_a_closure_it_interrupts(open_page, add_closure):
    add_closure("spans-the-pause", schedule={"windows": [{"start": "2024-04-01", "end": "2024-10-31"}]},
                geometry=EAST)
    page = open_page("?at=2024-05-20T12:00&closure=spans-the-pause")
    expect(page.locator("#details .rw-facts")).to_contain_text("旅游旺季暂停施工")


def test_subscribe_links_are_webcal(open_page):
    page = open_page(f"?at=2024-05-20T12:00")
    area = page.locator("#subscribe-area a.rw-subscribe").get_attribute("href")
    assert re.match(r"^webcal://127\.0\.0\.1:\d+/feeds/closures\.ics\?bbox=", area)
    page.click(f'.rw-entry[data-closure-id="{GONGHE}"]')
    road = page.locator("#details a.rw-subscribe").get_attribute("href")
    assert road.startswith("webcal://") and "/feeds/closures.ics?road=" in road


def test_the_page_opens_on_the_closures_and_asks_for_each_list_once(open_page):
    page = open_page("?at=2024-05-20T12:00")
    page.wait_for_timeout(600)  # past the pause after a move, when a second fetch would go out
    wait_until_drawn(page)
    assert len(api_requests(page, "/api/v1/closures")) == 1
    assert len(api_requests(page, "/api/v1/projects")) == 1
    zooms = {int(TILE_ZOOM.match(url).group(1)) for url in page.asked if TILE_ZOOM.match(url)}
    assert zooms and min(zooms) >= 13  # no tiles of all of China first: the first view is the street's
    assert int(query_of(page)["map"].split("/")[0]) >= 13


def _pixel(lon: float, lat: float, zoom: int) -> tuple[float, float]:
    import math

    size = 256 * 2 ** zoom
    y = (1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2
    return (lon + 180) / 360 * size, y * size


def test_with_gcj02_tiles_the_map_asks_for_gcj02_and_draws_the_lines_shifted(open_page, demo):
    from roadworks.domain.crs import wgs84_to_gcj02

    view = "?at=2024-09-02T12:00&map=15/36.61140/101.79725"  # the whole line in sight: Leaflet clips the rest
    plain = open_page(view).locator(f'path.rw-line[data-closure-id="{NANXIAO}"]').bounding_box()
    demo.settings["TILE_CRS"] = "gcj02"
    page = open_page(view)
    listing = api_requests(page, "/api/v1/closures")
    assert listing and all(parse_qs(urlsplit(url).query)["crs"] == ["gcj02"] for url in listing)
    shifted = page.locator(f'path.rw-line[data-closure-id="{NANXIAO}"]').bounding_box()
    lon, lat = 101.7905, 36.6116  # a point of the demo's lines: every point moves (nearly) alike here
    (x0, y0), (x1, y1) = _pixel(lon, lat, 15), _pixel(*wgs84_to_gcj02(lon, lat), 15)
    assert abs((shifted["x"] - plain["x"]) - (x1 - x0)) < 2 and abs((shifted["y"] - plain["y"]) - (y1 - y0)) < 2
    assert abs(x1 - x0) > 20  # GCJ-02 moves Xining by hundreds of metres: far more than the tolerance
    page.click(f'.rw-entry[data-closure-id="{NANXIAO}"]')
    wait_until_drawn(page)
    detail = api_requests(page, f"/api/v1/closures/{NANXIAO}")
    assert detail and parse_qs(urlsplit(detail[-1]).query)["crs"] == ["gcj02"]
    area = page.locator("#subscribe-area a.rw-subscribe").get_attribute("href")
    assert "crs=gcj02" in area

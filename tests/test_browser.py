"""A real browser (headless Chromium) on every public page, at a desk (1280 px) and a phone (390 px).

Each page must fit its width (no horizontal scroll of the page), keep its text readable (no
text broken one character per line), and render Chinese (a CJK font installed: Debian's
fonts-noto-cjk); every link of the home page must answer. Screenshots go to
``bench-out/screenshots/`` (or ``SCREENSHOT_DIR``) for a person to look at.

Skipped when Chromium is absent, unless REQUIRE_BROWSER is set (CI sets it, so there it fails).
"""

import os
import shutil
import threading
import urllib.request
from datetime import timedelta
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
from credit_factory import LAST_QUARTER, counted_sample, day_in
from werkzeug.serving import make_server

from services.calendar import now
from services.lists import publish_lists

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER) and not os.environ.get("REQUIRE_BROWSER"),
    reason="chromium and chromedriver are not installed (set REQUIRE_BROWSER to make this a failure)",
)
ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR") or ROOT / "bench-out" / "screenshots")
WIDTHS = (1280, 390)

# Text nodes that the browser laid out with (nearly) one character per line.
BROKEN_TEXT_JS = """
const broken = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const node = walker.currentNode;
  const text = node.textContent.trim();
  if (text.length < 3) continue;
  const style = getComputedStyle(node.parentElement);
  if (style.display === 'none' || style.visibility === 'hidden') continue;
  const range = document.createRange();
  range.selectNodeContents(node);
  const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
  if (tops.size >= 3 && tops.size * 2 >= text.length) broken.push(text.slice(0, 40) + ' (' + tops.size + ' lines)');
}
return broken;
"""

# Distinct Chinese characters must draw distinct glyphs, unlike a private-use character (a box).
GLYPHS_JS = """
const font = getComputedStyle(document.querySelector('h1') || document.body).fontFamily;
function pixels(ch) {
  const canvas = document.createElement('canvas');
  canvas.width = 40; canvas.height = 40;
  const ctx = canvas.getContext('2d');
  ctx.font = '32px ' + font;
  ctx.fillText(ch, 2, 32);
  return Array.from(ctx.getImageData(0, 0, 40, 40).data).join(',');
}
const box = pixels('\\uE000');
const drawn = ['抽', '查', '结', '果'].map(pixels);
return new Set(drawn).size === drawn.length && drawn.every(p => p !== box);
"""


@pytest.fixture
def server(app):
    """The real app served over HTTP on a free port, in a thread."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    if CHROMIUM:
        options.binary_location = CHROMIUM
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def set_width(driver, width: int, height: int = 900) -> None:
    """Lay the page out exactly ``width`` CSS pixels wide (a phone below 500)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500})


def screenshot(driver, width: int, name: str) -> Path:
    """The whole page, as tall as it is, under SCREENSHOTS."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = min(driver.execute_script("return document.documentElement.scrollHeight"), 8000)
    set_width(driver, width, height)
    path = SCREENSHOTS / f"{width}px-{name}.png"
    driver.save_screenshot(str(path))
    set_width(driver, width)
    return path


@pytest.fixture
def city(factory, auth, client):
    """A small city with every public page filled: plans, results, lists, a public draw."""
    parent = factory.category(code="DQ", name="家用电器", standard=None)
    kettle = factory.category(code="DQ-01", name="电热水壶", parent=parent, standard="GB 4706.19",
                              key_supervised=True, risk_level=3)
    toy = factory.category(code="WJ-02", name="儿童玩具", standard="GB 6675", key_supervised=True)
    names = ["东莞市星辰玩具有限公司", "东莞市月光电器有限公司", "东莞市虎门镇华兴电器制品有限公司",
             "东莞市长安镇恒信五金塑胶电器科技有限公司", "东莞市大朗毛织贸易有限公司"]
    enterprises = [factory.enterprise([toy if "玩具" in n else kettle], name=n, region=r)
                   for n, r in zip(names, ("石排镇", "虎门镇", "虎门镇", "长安镇", "大朗镇"), strict=True)]
    counted_sample(enterprises[0], toy, "fail", on=day_in(LAST_QUARTER, 50), items=("小零件", "可触及锐利边缘"),
                   critical=True)
    counted_sample(enterprises[1], kettle, "pass", on=day_in(LAST_QUARTER, 55))
    counted_sample(enterprises[2], kettle, "fail", on=day_in(LAST_QUARTER, 60), items=("泄漏电流和电气强度",))
    counted_sample(enterprises[3], kettle, refused=True, on=day_in(LAST_QUARTER, 70))
    for days in (180, 90, 0):  # three passes in a row, the last one final last quarter: red
        counted_sample(enterprises[4], kettle, "pass", on=day_in(LAST_QUARTER, 40) - timedelta(days=days))
    publish_lists(LAST_QUARTER, "test", now())
    for name in ("东莞市华美电器有限公司", "东莞市宏达电热电器有限公司"):  # not sampled lately: drawable
        factory.enterprise([kettle], name=name, region="常平镇")
    for region in ("东城街道", "南城街道", "莞城街道", "万江街道") * 2:
        factory.inspector(region=region)
    factory.lab([kettle, toy], name="广东产品质量监督检验研究院")
    sup = auth.headers("supervisor")
    plan = client.post("/api/v1/plans", headers=sup, json={
        "name": "2026年第四季度电热水壶专项监督抽查", "level": "municipal", "kind": "special", "period": "2026Q4",
        "category_codes": ["DQ-01"], "sample_size": 2}).get_json()
    assert client.post(f"/api/v1/plans/{plan['id']}/draw", headers=sup, json={}).status_code == 201
    assert client.post(f"/api/v1/plans/{plan['id']}/draw/publish", headers=sup).status_code == 200
    return {"enterprise": enterprises[2].credit_code, "plan": plan["id"]}


PAGES = {  # name: path; ``{enterprise}`` and ``{plan}`` come from the city
    "home": "/", "plans": "/plans", "plan": "/plans/{plan}", "results": "/results",
    "results-filtered": "/results?verdict=fail&category=DQ", "enterprises": "/enterprises?q=东莞",
    "enterprise": "/enterprises/{enterprise}", "catalogue": "/catalogue", "lists": "/lists",
    "lists-period": "/lists/" + LAST_QUARTER, "reports": "/reports", "draw": "/draws/{plan}",
    "not-found": "/plans/99999",
}


def page_cases():
    return [pytest.param(name, width, id=f"{width}px-{name}") for width in WIDTHS for name in PAGES]


@pytest.mark.parametrize(("name", "width"), page_cases())
def test_every_public_page_fits_reads_and_renders_chinese(city, server, browser, name, width):
    path = PAGES[name].format(**city)
    set_width(browser, width)
    browser.get(server + path)
    assert browser.find_element("css selector", "h1").text
    assert screenshot(browser, width, name).stat().st_size > 0
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{path}: the page scrolls sideways by {overflow}px at {width}px"
    if width >= 1280:  # at a desk every table is read whole; only a phone scrolls one in its box
        cut = browser.execute_script(
            "return [...document.querySelectorAll('.scroll, .table-scroll')]"
            ".filter(box => box.scrollWidth > box.clientWidth + 1).map(box => box.scrollWidth - box.clientWidth)")
        assert cut == [], f"{path}: a table is cut at {width}px and must be scrolled by {cut}px"
    clipped = browser.execute_script(
        "return [...document.querySelectorAll('svg text')].filter(t => { const b = t.getBBox(),"
        " v = t.ownerSVGElement.viewBox.baseVal; return b.x < 0 || b.y < 0 || b.x + b.width > v.width"
        " || b.y + b.height > v.height; }).map(t => t.textContent)")
    assert clipped == [], f"{path}: chart labels cut at the chart's edge: {clipped}"
    broken = browser.execute_script(BROKEN_TEXT_JS)
    assert broken == [], f"{path}: text broken one character per line at {width}px"
    assert browser.execute_script(GLYPHS_JS), f"{path}: Chinese characters are drawn as boxes (no CJK font)"


def test_every_link_of_the_home_page_answers(city, server, browser):
    set_width(browser, 1280)
    browser.get(server + "/")
    hrefs = {a.get_attribute("href") for a in browser.find_elements("css selector", "a[href]")}
    local = sorted(h for h in hrefs if urlparse(h).netloc == urlparse(server).netloc)
    assert len(local) >= 15
    for href in local:
        with urllib.request.urlopen(urljoin(server, href), timeout=10) as resp:  # noqa: S310 (our own server)
            assert resp.status == 200, href
    for path in ("/plans", "/results", "/enterprises", "/lists", "/reports", "/catalogue"):
        assert server + path in hrefs, path


def test_search_the_published_list_and_find_the_row(factory, server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    category = factory.category()
    wanted = factory.enterprise([category], name="东莞市星辰玩具有限公司")
    other = factory.enterprise([category], name="东莞市月光电器有限公司")
    counted_sample(wanted, category, "fail", on=day_in(LAST_QUARTER), items=("小零件",))
    counted_sample(other, category, "fail", on=day_in(LAST_QUARTER))
    publish_lists(LAST_QUARTER, "test", now())

    set_width(browser, 1280)
    browser.get(f"{server}/lists/{LAST_QUARTER}")
    assert browser.title
    search = browser.find_element(By.ID, "q")
    search.send_keys("星辰玩具")
    browser.find_element(By.ID, "search").click()
    WebDriverWait(browser, 10).until(lambda d: "q=" in d.current_url)  # the answer, not the page before

    rows = browser.find_elements(By.CSS_SELECTOR, "#black [data-credit-code]")
    assert [row.get_attribute("data-credit-code") for row in rows] == [wanted.credit_code]
    assert "小零件" in rows[0].text and "东莞市星辰玩具有限公司" in rows[0].text
    assert "q=" in browser.current_url


def test_search_the_results_by_name_on_a_phone(city, server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    set_width(browser, 390)
    browser.get(f"{server}/results")
    browser.find_element(By.ID, "q").send_keys("华兴电器")
    browser.find_element(By.ID, "search").click()
    WebDriverWait(browser, 10).until(lambda d: "q=" in d.current_url)
    cards = browser.find_elements(By.CSS_SELECTOR, "article.result")
    assert len(cards) == 1 and "泄漏电流和电气强度" in cards[0].text and "不合格" in cards[0].text

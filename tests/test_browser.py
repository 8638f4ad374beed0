"""A real browser on the published list page: headless Chromium searches and finds a row.

Skipped when Chromium is absent, unless REQUIRE_BROWSER is set (CI sets it, so there it fails).
"""

import os
import shutil
import threading

import pytest
from credit_factory import LAST_QUARTER, counted_sample
from werkzeug.serving import make_server

from services.lists import publish_lists

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER) and not os.environ.get("REQUIRE_BROWSER"),
    reason="chromium and chromedriver are not installed (set REQUIRE_BROWSER to make this a failure)",
)


@pytest.fixture
def server(app):
    """The real app served over HTTP on a free port, in a thread."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    if CHROMIUM:
        options.binary_location = CHROMIUM
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-dev-shm-usage"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def test_search_the_published_list_and_find_the_row(factory, server, browser):
    from selenium.webdriver.common.by import By

    category = factory.category()
    wanted = factory.enterprise([category], name="东莞市星辰玩具有限公司")
    other = factory.enterprise([category], name="东莞市月光电器有限公司")
    counted_sample(wanted, category, "fail", 40, items=("小零件",))
    counted_sample(other, category, "fail", 40)
    publish_lists(LAST_QUARTER, "test")

    browser.get(f"{server}/lists")
    browser.find_element(By.LINK_TEXT, LAST_QUARTER).click()
    assert LAST_QUARTER in browser.title
    search = browser.find_element(By.ID, "q")
    search.send_keys("星辰玩具")
    browser.find_element(By.ID, "search").click()

    rows = browser.find_elements(By.CSS_SELECTOR, "table#black tbody tr")
    assert [row.get_attribute("data-credit-code") for row in rows] == [wanted.credit_code]
    assert "小零件" in rows[0].text and "东莞市星辰玩具有限公司" in rows[0].text
    assert "q=" in browser.current_url

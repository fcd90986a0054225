"""The Acme demo product that `make run` serves beside the dashboard shows its surveys: on the
dashboard page at once, and after the Upgrade button's event; with zero CSP violations."""

from __future__ import annotations

import pytest

from demo.product import DemoProduct
from demo.services import HOME_SURVEY, demo_product_surveys_ensure
from environments.services import environment_create
from surveys.models import Response, Survey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD = """
window.__seen = {violations: [], errors: []};
document.addEventListener("securitypolicyviolation", (e) => {
  window.__seen.violations.push(e.violatedDirective);
});
window.addEventListener("error", (e) => window.__seen.errors.push(String(e.message)));
"""


@pytest.fixture
def demo(live_server):
    environment = environment_create(name="Demo")
    demo_product_surveys_ensure(environment=environment)
    demo_product_surveys_ensure(environment=environment)  # idempotent: every make run calls it
    product = DemoProduct(
        hark_url=live_server.url, public_key=environment.public_key, host="127.0.0.1", port=0
    ).start()
    yield environment, product
    product.stop()


def test_demo_product_shows_its_surveys(browser, demo):
    environment, product = demo
    assert Survey.objects.filter(environment=environment).count() == 2
    context = browser.new_context()
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.add_init_script(RECORD)
        page.goto(product.url)
        widget = page.locator("hark-widget")
        widget.get_by_role("button", name="9", exact=True).click()
        widget.get_by_role("button", name="Design").click()
        page.keyboard.press("Escape")  # leaves the optional last question: a dismissal
        assert widget.count() == 0

        page.click("text=Projects")
        page.click("#upgrade")
        widget.get_by_role("button", name="Team seats").click()
        widget.get_by_role("heading", name="Thanks for trying Hark!").wait_for()
        assert page.evaluate("window.__seen") == {"violations": [], "errors": []}
    finally:
        context.close()
    home = Response.objects.get(survey__name=HOME_SURVEY)
    assert home.data == {"acme_nps": 9, "acme_best": "Design"} and home.channel == "web"

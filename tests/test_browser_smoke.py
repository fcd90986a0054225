import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_form_reaches_the_environment(logged_in_page, live_server, environment):
    assert f"/e/{environment.slug}/" in logged_in_page.url
    assert logged_in_page.locator(".topbar").is_visible()
    assert logged_in_page.locator(".envswitch summary").inner_text() == environment.name

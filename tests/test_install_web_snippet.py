"""Settings → Install: the web client's snippet with the environment's public key, and the
identity-verification variant with its server-side signing examples."""

from __future__ import annotations

import hashlib
import hmac
import html
import re

import pytest
from django.test import Client
from django.urls import reverse

from delivery.factories import web_survey
from surveys.link import sign
from tests.client_host import HostApp

pytestmark = pytest.mark.django_db


def _settings_page(client, environment) -> str:
    page = client.get(reverse("environments:settings", kwargs={"env": environment.slug}))
    assert page.status_code == 200
    return page.content.decode()


def _block(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*><code>(.*?)</code>', page, re.S)
    assert found, element_id
    return html.unescape(found.group(1))


def test_install_shows_the_web_snippet_with_the_public_key_and_stable_script_url(
    owner_client, environment
):
    snippet = _block(_settings_page(owner_client, environment), "web-snippet")
    assert f"hark('setProject', '{environment.public_key}')" in snippet
    assert (
        '<script async src="http://testserver/static/hark/client/v1/hark.js"></script>' in snippet
    )
    assert "(hark.q = hark.q || []).push(arguments)" in snippet


def test_analysts_see_the_snippet_too(analyst_client, environment):
    assert environment.public_key in _block(
        _settings_page(analyst_client, environment), "web-snippet"
    )


def test_signing_examples_cover_four_languages_and_the_python_one_is_the_servers_rule(
    owner_client, environment
):
    page = _settings_page(owner_client, environment)
    assert "{signature: 'SIGNATURE'}" in _block(page, "web-snippet-signed")
    python = _block(page, "sign-python")
    for language in ("node", "ruby", "php"):
        assert "IDENTITY_SECRET" in _block(page, f"sign-{language}")
    # Run the Python example as written: it computes the signature the server checks.
    secret = environment.identity_secret
    namespace = {"hmac": hmac, "hashlib": hashlib, "IDENTITY_SECRET": secret, "user_id": "u-7"}
    assert eval(python, namespace) == sign(secret, "u-7")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_snippet_pasted_verbatim_shows_a_survey(browser, live_server, environment, owner):
    """The snippet exactly as Settings shows it, inline in a page of another origin."""

    client = Client()
    client.force_login(owner.user)
    page_html = _settings_page(client, environment).replace("http://testserver", live_server.url)
    snippet = _block(page_html, "web-snippet")
    web_survey(environment, questions=1)
    host = HostApp(live_server.url, environment.public_key)
    host.page_html = (
        f"<!doctype html><html lang=en><head><title>t</title>{snippet}</head><body></body></html>"
    )
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        tab.goto(host.url("/"))
        tab.locator("hark-widget").get_by_role("button", name="7", exact=True).wait_for()
    finally:
        context.close()
        host.close()

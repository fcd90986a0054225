import html
import json
import re
import shlex

import pytest
from django.urls import reverse

from environments.services import api_key_create
from profiles.models import Profile

pytestmark = pytest.mark.django_db


def test_install_snippet_identifies_a_user_when_run(owner_client, client, environment):
    """The Settings page's snippet is a real call: run it (through the test client) with a key."""
    page = owner_client.get(reverse("environments:settings", kwargs={"env": environment.slug}))
    snippet = re.search(
        r'id="install-snippet"[^>]*><code>(.*?)</code>', page.content.decode(), re.S
    )
    command = shlex.split(html.unescape(snippet.group(1)).replace("\\\n", " "))
    url = command[command.index("POST") + 1]
    body = json.loads(command[command.index("-d") + 1])
    _, secret = api_key_create(environment=environment)

    response = client.post(
        url.removeprefix("http://testserver"),
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )

    assert response.status_code in (200, 201), response.content
    profile = Profile.objects.get(environment=environment, user_id="USER-ID")
    assert profile.traits["plan"] == "pro"

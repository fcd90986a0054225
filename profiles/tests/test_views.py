"""The Users list and the User Detail Panel: access, search and filters, keyset pages, the
panel's content, escaping, CSP and bounded query counts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.pagination import encode_cursor
from events.factories import EventDefinitionFactory, EventFactory
from profiles.factories import ProfileFactory
from profiles.selectors import format_trait_value
from segments.factories import ManualSegmentFactory, SegmentMembershipFactory
from surveys.factories import QuestionFactory, ResponseFactory, SurveyFactory
from tests.helpers import HTMX
from traits.factories import TraitFactory

pytestmark = pytest.mark.django_db

XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


def list_url(environment) -> str:
    return reverse("profiles:list", kwargs={"env": environment.slug})


def detail_url(profile) -> str:
    return reverse(
        "profiles:detail", kwargs={"env": profile.environment.slug, "uuid": profile.uuid}
    )


def names(response) -> list[str]:
    return re.findall(r'class="user-link"[^>]*>([^<]*)</a>', response.content.decode())


# --- Access ------------------------------------------------------------------------------------


def test_users_list_sends_anonymous_visitor_to_login(client, environment):
    response = client.get(list_url(environment))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_users_list_and_panel_are_404_for_an_outsider(outsider_client, environment):
    profile = ProfileFactory(environment=environment)
    assert outsider_client.get(list_url(environment)).status_code == 404
    assert outsider_client.get(detail_url(profile)).status_code == 404


def test_panel_of_another_environments_profile_is_404(owner_client, environment, other_environment):
    foreign = ProfileFactory(environment=other_environment)
    url = reverse("profiles:detail", kwargs={"env": environment.slug, "uuid": foreign.uuid})
    assert owner_client.get(url).status_code == 404
    events_url = reverse("profiles:events", kwargs={"env": environment.slug, "uuid": foreign.uuid})
    assert owner_client.get(events_url).status_code == 404


def test_analyst_reads_users_and_panel_and_cannot_post(analyst_client, environment):
    profile = ProfileFactory(environment=environment, traits={"name": "Ada"})
    assert analyst_client.get(list_url(environment)).status_code == 200
    assert analyst_client.get(detail_url(profile)).status_code == 200
    # Read-only pages: POST is refused (no page here changes data).
    assert analyst_client.post(list_url(environment)).status_code in (403, 405)
    assert analyst_client.post(detail_url(profile)).status_code in (403, 405)


def test_users_list_full_page_and_htmx_fragment(owner_client, environment):
    ProfileFactory(environment=environment, traits={"name": "Grace Hopper"})
    page = owner_client.get(list_url(environment))
    assert page.status_code == 200
    assert b"<html" in page.content and b'id="results"' in page.content
    fragment = owner_client.get(list_url(environment), headers=HTMX)
    assert fragment.status_code == 200
    assert b"<html" not in fragment.content
    assert fragment.content.lstrip().startswith(b'<div id="results"')
    assert "Grace Hopper" in fragment.content.decode()


def test_history_restore_gets_the_full_page(owner_client, environment):
    response = owner_client.get(
        list_url(environment), HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert b"<html" in response.content


# --- Search and filters ------------------------------------------------------------------------


def test_search_matches_part_of_email_or_user_id(owner_client, environment):
    ProfileFactory(
        environment=environment, user_id="u-1", email="ada@lovelace.test", traits={"name": "Ada"}
    )
    ProfileFactory(
        environment=environment, user_id="acct-777", email="b@x.test", traits={"name": "Bob"}
    )
    ProfileFactory(environment=environment, user_id="u-3", email="c@y.test", traits={"name": "Cy"})
    assert names(owner_client.get(list_url(environment), {"q": "LOVELACE"}, headers=HTMX)) == [
        "Ada"
    ]
    assert names(owner_client.get(list_url(environment), {"q": "777"}, headers=HTMX)) == ["Bob"]
    # Too short for a substring search (it would match most of the table): a hint instead.
    response = owner_client.get(list_url(environment), {"q": "ac"}, headers=HTMX)
    assert names(response) == []
    assert b"3 characters" in response.content


def test_search_by_trait_key_value_with_typed_values(owner_client, environment):
    ProfileFactory(environment=environment, traits={"name": "Pro", "plan": "pro", "seats": 12})
    ProfileFactory(
        environment=environment, traits={"name": "Free", "plan": "free", "seats": 1, "beta": True}
    )
    assert names(owner_client.get(list_url(environment), {"q": "plan:pro"}, headers=HTMX)) == [
        "Pro"
    ]
    assert names(owner_client.get(list_url(environment), {"q": "seats=12"}, headers=HTMX)) == [
        "Pro"
    ]
    assert names(owner_client.get(list_url(environment), {"q": "beta:true"}, headers=HTMX)) == [
        "Free"
    ]


def test_search_by_a_trait_value_alone(owner_client, environment):
    TraitFactory(environment=environment, key="company")
    ProfileFactory(environment=environment, traits={"name": "A", "company": "Initech"})
    ProfileFactory(environment=environment, traits={"name": "B", "company": "Globex"})
    assert names(owner_client.get(list_url(environment), {"q": "Initech"}, headers=HTMX)) == ["A"]
    assert names(owner_client.get(list_url(environment), {"q": "initech"}, headers=HTMX)) == ["A"]
    # Quotes and backslashes cannot break out of the jsonpath literal.
    ProfileFactory(environment=environment, traits={"name": "C", "company": 'A"B\\C'})
    assert names(owner_client.get(list_url(environment), {"q": 'A"B\\C'}, headers=HTMX)) == ["C"]


def test_filter_identified_and_anonymous(owner_client, environment):
    ProfileFactory(environment=environment, traits={"name": "Known"})
    ProfileFactory(environment=environment, anonymous=True, traits={"name": "Nobody"})
    assert names(
        owner_client.get(list_url(environment), {"identity": "identified"}, headers=HTMX)
    ) == ["Known"]
    assert names(
        owner_client.get(list_url(environment), {"identity": "anonymous"}, headers=HTMX)
    ) == ["Nobody"]


def test_filter_by_segment_uses_stored_membership(owner_client, environment, other_environment):
    segment = ManualSegmentFactory(environment=environment)
    member = ProfileFactory(environment=environment, traits={"name": "Member"})
    ProfileFactory(environment=environment, traits={"name": "Outside"})
    SegmentMembershipFactory(segment=segment, profile=member)
    response = owner_client.get(list_url(environment), {"segment": str(segment.uuid)}, headers=HTMX)
    assert names(response) == ["Member"]
    # A segment of another environment is not a valid choice: nothing leaks, nothing listed.
    foreign = ManualSegmentFactory(environment=other_environment)
    response = owner_client.get(list_url(environment), {"segment": str(foreign.uuid)}, headers=HTMX)
    assert names(response) == []


def test_sort_by_first_or_last_seen(owner_client, environment):
    now = timezone.now()
    ProfileFactory(
        environment=environment,
        traits={"name": "Old"},
        first_seen_at=now - timedelta(days=9),
        last_seen_at=now,
    )
    ProfileFactory(
        environment=environment,
        traits={"name": "New"},
        first_seen_at=now - timedelta(days=1),
        last_seen_at=now - timedelta(days=1),
    )
    assert names(owner_client.get(list_url(environment), {"sort": "last_seen"}, headers=HTMX)) == [
        "Old",
        "New",
    ]
    assert names(owner_client.get(list_url(environment), {"sort": "first_seen"}, headers=HTMX)) == [
        "New",
        "Old",
    ]


def test_keyset_pages_cover_every_profile_once(owner_client, environment, monkeypatch):
    monkeypatch.setattr("profiles.selectors.profile_page.__kwdefaults__", {"size": 4})
    same_time = timezone.now()
    for i in range(10):
        # Ties on last_seen_at: the id breaks them.
        ProfileFactory(
            environment=environment,
            traits={"name": f"P{i}"},
            last_seen_at=same_time - timedelta(minutes=i // 3),
        )
    seen, url, pages = [], list_url(environment), 0
    params: dict = {"identity": "identified"}
    while True:
        response = owner_client.get(url, params, headers=HTMX)
        seen += names(response)
        pages += 1
        match = re.search(r'href="[^"]*\?([^"]*after=[^"]*)"', response.content.decode())
        if not match:
            break
        params = dict(p.split("=", 1) for p in match.group(1).replace("&amp;", "&").split("&"))
        assert params["identity"] == "identified"  # filters ride along
    assert pages == 3
    assert sorted(seen) == sorted(f"P{i}" for i in range(10))
    assert len(seen) == len(set(seen))


def test_malformed_cursor_shows_the_first_page(owner_client, environment):
    ProfileFactory(environment=environment, traits={"name": "Ada"})
    assert names(owner_client.get(list_url(environment), {"after": "garbage"}, headers=HTMX)) == [
        "Ada"
    ]


def test_users_list_query_count_does_not_grow_with_page_size(owner_client, environment):
    TraitFactory(environment=environment, key="company")
    segment = ManualSegmentFactory(environment=environment)

    def count(n_profiles: int) -> int:
        for _ in range(n_profiles):
            ProfileFactory(environment=environment, traits={"name": "X", "company": "Y"})
        with CaptureQueriesContext(connection) as ctx:
            response = owner_client.get(
                list_url(environment), {"q": "Y", "segment": str(segment.uuid)}
            )
        assert response.status_code == 200
        return len(ctx.captured_queries)

    small = count(2)
    large = count(40)
    assert small == large
    assert large <= 12


# --- The panel ---------------------------------------------------------------------------------


def test_panel_fragment_and_full_page(owner_client, environment):
    profile = ProfileFactory(environment=environment, traits={"name": "Ada"})
    fragment = owner_client.get(detail_url(profile), headers=HTMX)
    assert fragment.status_code == 200
    assert b"<html" not in fragment.content
    assert b"data-panel-close" in fragment.content
    page = owner_client.get(detail_url(profile))
    assert b"<html" in page.content and b"Ada" in page.content
    assert b"data-panel-close" not in page.content


def test_panel_shows_identity_traits_with_types_responses_events_and_segments(
    owner_client, environment
):
    TraitFactory(environment=environment, key="signed_up_at", data_type="date")
    TraitFactory(
        environment=environment, key="is_admin", data_type="boolean", label="Workspace admin"
    )
    TraitFactory(environment=environment, key="seats", data_type="number")
    TraitFactory(environment=environment, key="secret_note", hidden=True)
    profile = ProfileFactory(
        environment=environment,
        user_id="u-42",
        email="ada@example.test",
        traits={
            "name": "Ada",
            "signed_up_at": "2024-03-05T10:30:00+00:00",
            "is_admin": True,
            "seats": 1234,
            "secret_note": "do not show",
        },
    )
    survey = SurveyFactory(environment=environment, name="Quarterly NPS")
    question = QuestionFactory(
        survey=survey, kind="nps", title="How likely are you to recommend us?"
    )
    ResponseFactory(
        survey=survey,
        profile=profile,
        environment=environment,
        data={question.key: 9},
        completed=True,
    )
    EventFactory(
        profile=profile,
        definition=EventDefinitionFactory(environment=environment, name="report_exported"),
    )
    segment = ManualSegmentFactory(environment=environment, name="Champions")
    SegmentMembershipFactory(segment=segment, profile=profile)

    html = owner_client.get(detail_url(profile), headers=HTMX).content.decode()
    assert "u-42" in html and "ada@example.test" in html
    assert "Mar 5, 2024" in html
    assert "Workspace admin" in html and ">yes<" in html
    assert "1,234" in html
    assert "do not show" not in html
    assert "Quarterly NPS" in html and "How likely are you to recommend us?" in html
    assert "completed" in html
    assert "report_exported" in html
    segments_url = reverse(
        "segments:profile_segments", kwargs={"env": environment.slug, "profile_uuid": profile.uuid}
    )
    assert f'hx-get="{segments_url}"' in html and 'hx-trigger="load"' in html


def test_panel_events_are_newest_first_and_load_more_pages_through_all(
    owner_client, environment, monkeypatch
):
    monkeypatch.setattr("profiles.selectors.profile_events_page.__kwdefaults__", {"size": 3})
    profile = ProfileFactory(environment=environment)
    definition = EventDefinitionFactory(environment=environment, name="clicked")
    now = timezone.now()
    for i in range(7):
        EventFactory(
            profile=profile,
            definition=definition,
            timestamp=now - timedelta(minutes=i),
            properties={"n": i},
        )
    html = owner_client.get(detail_url(profile), headers=HTMX).content.decode()
    seen = [int(n) for n in re.findall(r"{&quot;n&quot;: (\d+)}", html)]
    while True:
        match = re.search(r'hx-get="([^"]*/events/\?after=[^"]*)"', html)
        if not match:
            break
        html = owner_client.get(match.group(1).replace("&amp;", "&"), headers=HTMX).content.decode()
        assert "<html" not in html
        seen += [int(n) for n in re.findall(r"{&quot;n&quot;: (\d+)}", html)]
    assert seen == list(range(7))


def test_panel_events_link_without_javascript_renders_a_full_page(owner_client, environment):
    profile = ProfileFactory(environment=environment)
    url = reverse("profiles:events", kwargs={"env": environment.slug, "uuid": profile.uuid})
    response = owner_client.get(url, {"after": encode_cursor(timezone.now(), 1)})
    assert response.status_code == 200 and b"<html" in response.content


def test_panel_query_count_does_not_grow_with_events_or_responses(owner_client, environment):
    profile = ProfileFactory(environment=environment, traits={"name": "Ada", "plan": "pro"})
    definition = EventDefinitionFactory(environment=environment)
    survey = SurveyFactory(environment=environment)
    question = QuestionFactory(survey=survey, kind="nps")

    def count(n: int) -> int:
        for _ in range(n):
            EventFactory(profile=profile, definition=definition)
            ResponseFactory(
                survey=survey, profile=profile, environment=environment, data={question.key: 7}
            )
        with CaptureQueriesContext(connection) as ctx:
            assert owner_client.get(detail_url(profile), headers=HTMX).status_code == 200
        return len(ctx.captured_queries)

    small = count(1)
    large = count(30)
    assert small == large
    assert large <= 12


# --- Escaping and CSP --------------------------------------------------------------------------


def test_user_supplied_values_render_as_text(owner_client, environment):
    TraitFactory(environment=environment, key="bio")
    profile = ProfileFactory(
        environment=environment, user_id=XSS[:200], email=None, traits={"name": XSS, "bio": XSS}
    )
    EventFactory(
        profile=profile, definition=EventDefinitionFactory(environment=environment, name=XSS[:190])
    )
    for response in (
        owner_client.get(list_url(environment)),
        owner_client.get(detail_url(profile), headers=HTMX),
        owner_client.get(detail_url(profile)),
    ):
        html = response.content.decode()
        assert "<img src=x" not in html
        assert "<script>window.__pwned" not in html
        assert "&lt;img src=x onerror=" in html


def test_pages_carry_a_csp_without_inline_script(owner_client, environment):
    profile = ProfileFactory(environment=environment)
    for url in (list_url(environment), detail_url(profile)):
        response = owner_client.get(url)
        policy = response["Content-Security-Policy"]
        script_src = re.search(r"script-src ([^;]*)", policy).group(1)
        assert "'self'" in script_src
        assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
        # Every <script> on the page is an external file (or JSON data).
        for tag in re.findall(r"<script\b[^>]*>", response.content.decode()):
            assert "src=" in tag or 'type="application/json"' in tag
        assert not re.search(r"\son[a-z]+=", response.content.decode())


def test_format_trait_value_per_type():
    assert format_trait_value(True, "boolean") == "yes"
    assert format_trait_value("false", "boolean") == "no"
    assert format_trait_value(1234567, "number") == "1,234,567"
    assert format_trait_value(3.5, "number") == "3.5"
    assert format_trait_value("2024-01-02", "date") == "Jan 2, 2024"
    assert format_trait_value("not a date", "date") == "not a date"
    assert format_trait_value({"a": 1}, "string") == '{"a": 1}'
    assert format_trait_value(["Red", "Blue"], "string") == "Red, Blue"
    assert format_trait_value(None, "string") == "—"


def test_a_date_trait_at_the_ends_of_the_calendar_shows_on_the_panel(owner_client, environment):
    """In the local zone these are past year 9999 or before year 1: converting them raised
    OverflowError, a 500 on the User Detail Panel. They show in their own offset."""
    TraitFactory(environment=environment, key="renews_at", data_type="date")
    TraitFactory(environment=environment, key="born_at", data_type="date")
    profile = ProfileFactory(
        environment=environment,
        traits={"renews_at": "9999-12-31T23:00:00-05:00", "born_at": "0001-01-01T01:00:00+05:00"},
    )
    assert format_trait_value("9999-12-31T23:00:00-05:00", "date") == "Dec 31, 9999 23:00"
    for response in (
        owner_client.get(detail_url(profile), headers=HTMX),
        owner_client.get(detail_url(profile)),
    ):
        assert response.status_code == 200
        assert "Dec 31, 9999 23:00" in response.content.decode()


def test_the_users_count_loads_after_a_long_list(owner_client, environment, other_environment):
    """A page holding every match says how many without a count; a longer list loads it after
    the rows (htmx), with the list's filters, scoped to the environment."""
    for i in range(55):
        ProfileFactory(environment=environment, email=f"p{i}@acme.test", traits={"name": f"P{i}"})
    ProfileFactory(environment=other_environment, email="p1@acme.test")
    with CaptureQueriesContext(connection) as listed:
        html = owner_client.get(list_url(environment), headers=HTMX).content.decode()
    assert not any("COUNT(*)" in q["sql"] for q in listed.captured_queries)
    count_url = reverse("profiles:count", kwargs={"env": environment.slug})
    assert f'hx-get="{count_url}"' in html and "data-counting" in html
    counted = owner_client.get(count_url, headers=HTMX).content.decode().strip()
    assert counted == '<strong class="total">55</strong> users'
    searched = owner_client.get(count_url, {"q": "acme.test"}, headers=HTMX).content.decode()
    assert searched.strip() == '<strong class="total">55</strong> users match'
    html = owner_client.get(list_url(environment), {"q": "p1@acme"}).content.decode()
    assert '<strong class="total">1</strong> user matches' in html  # one page: no count needed
    html = owner_client.get(list_url(environment), {"count": "1"}).content.decode()
    assert '<strong class="total">55</strong> users' in html  # without JavaScript

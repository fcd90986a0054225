"""The Users search's text (profiles/search.py): what "contains" matches, and that PostgreSQL
answers it with the one trigram index (migration profiles 0009) rather than a scan."""

from __future__ import annotations

import pytest
from django.db import connection

from profiles.factories import ProfileFactory
from profiles.models import Profile
from profiles.search import SEARCH_INDEX, search_text_contains
from profiles.selectors import profile_search_q

pytestmark = pytest.mark.django_db


def _found(environment, text: str) -> set[str | None]:
    return set(
        Profile.objects.filter(environment=environment)
        .filter(search_text_contains(text))
        .values_list("user_id", flat=True)
    )


def test_contains_matches_each_field_ignoring_case(environment, other_environment):
    ProfileFactory(environment=environment, user_id="acct-777", email="b@x.test")
    ProfileFactory(environment=environment, user_id="u-2", email="ada@lovelace.test")
    ProfileFactory(environment=environment, user_id="u-3", traits={"name": "Grace Hopper"})
    anonymous = ProfileFactory(environment=environment, anonymous=True)
    ProfileFactory(environment=other_environment, user_id="acct-778", email="ada@else.test")

    assert _found(environment, "CCT-77") == {"acct-777"}
    assert _found(environment, "LoveLace") == {"u-2"}
    assert _found(environment, "ace hop") == {"u-3"}
    assert set(
        Profile.objects.filter(environment=environment)
        .filter(search_text_contains(anonymous.anonymous_id[2:12]))
        .values_list("pk", flat=True)
    ) == {anonymous.pk}
    # Scoped by the caller's filter: the other environment's "ada@" is not found.
    assert _found(environment, "ada@") == {"u-2"}


def test_a_match_cannot_straddle_two_fields(environment):
    # The fields are joined by chr(1): the end of the user id and the start of the email
    # are not one text.
    ProfileFactory(environment=environment, user_id="abc", email="def@x.test")
    assert _found(environment, "abc") == {"abc"}
    assert _found(environment, "bcdef") == set()
    assert _found(environment, "bc def") == set()


def test_like_wildcards_in_the_text_are_literal(environment):
    ProfileFactory(environment=environment, user_id="50%_off")
    ProfileFactory(environment=environment, user_id="500-off")
    assert _found(environment, "0%_o") == {"50%_off"}
    assert _found(environment, "0_") == set()
    assert _found(environment, "%") == {"50%_off"}


def test_the_search_is_one_trigram_index_scan(environment):
    """With enough profiles that a scan would cost more, the plan of the Users search reads the
    trigram index: the query's expression must be exactly the index's (a change to one of them
    alone would turn every search into a scan of the environment's profiles)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO profiles_profile (uuid, environment_id, user_id, email, traits, "
            "first_seen_at, last_seen_at) SELECT gen_random_uuid(), %s, 'user-' || i, "
            "'person' || i || '@example.com', jsonb_build_object('name', 'Person ' || i), "
            "now(), now() FROM generate_series(1, 20000) AS i",
            [environment.pk],
        )
        cursor.execute("ANALYZE profiles_profile")
    for text, found in (("person1234@", 1), ("ERSON 1234", 11), ("user-1234", 11)):
        queryset = Profile.objects.filter(environment=environment).filter(
            profile_search_q(environment_id=environment.pk, text=text)
        )
        plan = queryset.explain()
        assert f"Bitmap Index Scan on {SEARCH_INDEX}" in plan, plan
        assert "Seq Scan" not in plan, plan
        assert len(queryset) == found  # 1234, and 12340-12349 where no "@" ends it


def test_the_old_per_field_indexes_are_gone():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'profiles_profile' "
            "AND indexdef LIKE '%%gin_trgm_ops%%' ORDER BY 1"
        )
        assert [name for (name,) in cursor.fetchall()] == [SEARCH_INDEX]

"""core.querysql.queryset_sql: a queryset Django knows to be empty still gives SQL to compose."""

from __future__ import annotations

import pytest
from django.db import connection

from core.querysql import queryset_sql
from profiles.factories import ProfileFactory
from profiles.models import Profile

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "empty",
    [
        lambda: Profile.objects.none(),
        lambda: Profile.objects.filter(pk__in=[]),
        lambda: Profile.objects.filter(user_id__in=[]).values("user_id", "email"),
    ],
    ids=["none", "pk-in-empty", "values"],
)
def test_an_empty_queryset_becomes_sql_that_finds_nothing(environment, empty):
    ProfileFactory(environment=environment)
    qs = empty()
    sql, params = queryset_sql(qs)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({sql}) AS inner_rows", params)
        assert cursor.fetchone()[0] == 0
        cursor.execute(f"SELECT * FROM ({sql}) AS inner_rows LIMIT 0", params)
        if qs.query.values_select:  # the same select list as the queryset's own
            assert [c.name for c in cursor.description] == list(qs.query.values_select)


def test_a_queryset_with_rows_is_its_own_sql(environment):
    mine = ProfileFactory(environment=environment)
    sql, params = queryset_sql(Profile.objects.filter(pk=mine.pk).values("pk"))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        assert cursor.fetchall() == [(mine.pk,)]

"""The Users search's text: what "contains" looks into, and the one trigram index that serves it.

A profile's user id, email, anonymous id and `name` trait, upper-cased and joined by chr(1) (which
nobody types, so a match cannot straddle two fields), is indexed by the trigram GIN index
profile_search_trgm (migration profiles 0009). PostgreSQL uses an expression index only for a
query on the same expression, so SearchText renders exactly SEARCH_TEXT_SQL: change the two
(and a migration) together; profiles/tests/test_search.py checks the plan.

One index over the four fields rather than one per field: every new or changed profile
computes and stores the trigrams of each index it is in, and one index over the same text costs
a contact import about a third less of that work (README "Importing contacts").
"""

from __future__ import annotations

from django.db.models import F, Func, Q, TextField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Upper
from django.db.models.lookups import Contains

SEARCH_TEXT_SQL = (
    "upper(coalesce(user_id::text, '') || chr(1) || coalesce(email::text, '') || chr(1) || "
    "coalesce(anonymous_id::text, '') || chr(1) || coalesce(traits ->> 'name', ''))"
)
SEARCH_INDEX = "profile_search_trgm"


class SearchText(Func):
    """SEARCH_TEXT_SQL as an ORM expression (column names qualified by the query's alias)."""

    template = "upper(coalesce(%(expressions)s, ''))"
    arg_joiner = ", '') || chr(1) || coalesce("
    output_field = TextField()

    def __init__(self) -> None:
        super().__init__(
            Cast(F("user_id"), TextField()),
            Cast(F("email"), TextField()),
            Cast(F("anonymous_id"), TextField()),
            KT("traits__name"),
        )


def search_text_contains(text: str) -> Q:
    """Profiles whose user id, email, anonymous id or `name` trait contains the text, ignoring
    case: `SearchText LIKE '%' || upper(text) || '%'` (wildcards in the text escaped; upper-cased
    by PostgreSQL, as the index is). The trigram index answers it for 3 characters or more."""
    return Q(Contains(SearchText(), Upper(Value(text))))

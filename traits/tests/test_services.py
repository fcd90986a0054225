from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from traits.factories import TraitFactory
from traits.models import Trait
from traits.services import (
    TRAIT_STRING_MAX_LENGTH,
    TRAITS_MAX_PER_CALL,
    infer_data_type,
    trait_definitions_record,
    traits_clean,
)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("vip", True, "boolean"),
        ("vip", False, "boolean"),
        ("seats", 3, "number"),
        ("mrr", 12.5, "number"),
        ("signup", "2024-05-01", "date"),
        ("signup", "2024-05-01T10:00:00Z", "date"),
        ("signup", "2024-05-01T10:00:00.123+02:00", "date"),
        ("created_at", 1714557600, "date"),
        ("created_at", "yesterday", "date"),
        ("plan", "pro", "string"),
        ("plan", "2024", "string"),
        ("phone", "2024-05-01 call me", "string"),
        ("tags", ["a", "b"], "string"),
        ("address", {"city": "Oslo"}, "string"),
    ],
)
def test_infer_data_type(key, value, expected):
    assert infer_data_type(key, value) == expected


def test_trait_definitions_record_creates_on_first_sight_with_inferred_type(environment):
    at = datetime(2024, 5, 1, tzinfo=UTC)
    trait_definitions_record(
        environment_id=environment.pk,
        values={"plan": "pro", "seats": 3, "vip": True, "renews_at": "2024-06-01", "gone": None},
        scope="profile",
        seen_at=at,
    )
    defs = {t.key: t for t in Trait.objects.filter(environment=environment)}
    assert {k: t.data_type for k, t in defs.items()} == {
        "plan": "string",
        "seats": "number",
        "vip": "boolean",
        "renews_at": "date",
    }
    assert all(t.first_seen_at == at and t.last_seen_at == at for t in defs.values())


def test_trait_definitions_record_keeps_type_and_advances_last_seen(environment):
    TraitFactory(
        environment=environment,
        key="seats",
        data_type="string",
        first_seen_at=datetime(2024, 1, 1, tzinfo=UTC),
        last_seen_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    later = datetime(2024, 5, 1, tzinfo=UTC)
    trait_definitions_record(
        environment_id=environment.pk, values={"seats": 4}, scope="profile", seen_at=later
    )
    trait = Trait.objects.get(environment=environment, key="seats")
    assert trait.data_type == "string"  # a team's choice on the Traits page is kept
    assert trait.last_seen_at == later
    assert trait.first_seen_at == datetime(2024, 1, 1, tzinfo=UTC)
    # An older call never moves it back.
    trait_definitions_record(
        environment_id=environment.pk,
        values={"seats": 4},
        scope="profile",
        seen_at=later - timedelta(days=30),
    )
    assert Trait.objects.get(pk=trait.pk).last_seen_at == later


def test_trait_definitions_record_scopes_are_separate(environment, other_environment):
    at = datetime(2024, 5, 1, tzinfo=UTC)
    trait_definitions_record(
        environment_id=environment.pk, values={"score": 9}, scope="response", seen_at=at
    )
    trait_definitions_record(
        environment_id=environment.pk, values={"score": "x"}, scope="profile", seen_at=at
    )
    assert set(Trait.objects.values_list("environment_id", "scope", "key", "data_type")) == {
        (environment.pk, "response", "score", "number"),
        (environment.pk, "profile", "score", "string"),
    }
    assert not Trait.objects.filter(environment=other_environment).exists()


def test_trait_definitions_record_is_one_statement(environment, django_assert_num_queries):
    values = {f"key_{i}": i for i in range(150)}
    with django_assert_num_queries(1):
        trait_definitions_record(
            environment_id=environment.pk,
            values=values,
            scope="profile",
            seen_at=datetime(2024, 5, 1, tzinfo=UTC),
        )
    assert Trait.objects.filter(environment=environment).count() == 150


def test_traits_clean_strips_nul_and_protected_keys():
    cleaned = traits_clean(
        {
            "name": "Ada\x00 Lovelace",
            "uuid": "x",
            "first_seen_at": "2020-01-01",
            "environment": 3,
            "nested": {"a\x00": ["b\x00"]},
            "ratio": float("nan"),
            "bad": "\ud800",
        }
    )
    assert cleaned == {
        "name": "Ada Lovelace",
        "nested": {"a": ["b"]},
        "ratio": None,
        "bad": "?",
    }


@pytest.mark.parametrize(
    ("traits", "field"),
    [
        ({"": 1}, "traits."),
        ({"x" * 101: 1}, "traits." + "x" * 101),
        ({"has space": 1}, "traits.has space"),
        ({"-dash": 1}, "traits.-dash"),
        ({"bio": "x" * (TRAIT_STRING_MAX_LENGTH + 1)}, "traits.bio"),
        ({"deep": {"er": ["x" * (TRAIT_STRING_MAX_LENGTH + 1)]}}, "traits.deep.er[0]"),
        ({f"k{i}": i for i in range(TRAITS_MAX_PER_CALL + 1)}, "traits"),
    ],
)
def test_traits_clean_rejects_naming_the_field(traits, field):
    with pytest.raises(ValidationError) as exc:
        traits_clean(traits)
    assert list(exc.value.message_dict) == [field]


def test_traits_clean_accepts_limits():
    traits = {f"k{i}": "x" * TRAIT_STRING_MAX_LENGTH for i in range(TRAITS_MAX_PER_CALL)}
    assert traits_clean(traits) == traits
    assert traits_clean({"$email": "a", "a.b-c_d": 1}) == {"$email": "a", "a.b-c_d": 1}

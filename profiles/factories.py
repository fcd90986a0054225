"""Test data for profiles."""

from __future__ import annotations

import factory
from django.utils import timezone

from environments.services import environment_create

from .models import MonthlyActivity, Profile


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Profile

    # Tests usually pass the `environment` fixture; otherwise a fresh environment.
    environment = factory.LazyFunction(lambda: environment_create(name="Factory"))
    user_id = factory.Sequence(lambda n: f"user-{n}")
    email = factory.LazyAttribute(lambda p: f"{p.user_id}@example.test" if p.user_id else None)
    anonymous_id = None
    traits = factory.Dict({})
    first_seen_at = factory.LazyFunction(timezone.now)
    last_seen_at = factory.LazyAttribute(lambda p: p.first_seen_at)

    class Params:
        # ProfileFactory(anonymous=True): a device the web client has not identified yet.
        anonymous = factory.Trait(
            user_id=None,
            email=None,
            anonymous_id=factory.Sequence(lambda n: f"anon-{n}"),
        )


class MonthlyActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MonthlyActivity

    profile = factory.SubFactory(ProfileFactory)
    environment = factory.LazyAttribute(lambda a: a.profile.environment)
    month = factory.LazyFunction(lambda: timezone.now().date().replace(day=1))

"""Test data for events and their definitions."""

from __future__ import annotations

import factory
from django.utils import timezone

from environments.services import environment_create

from .models import Event, EventDefinition


class EventDefinitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EventDefinition
        django_get_or_create = ("environment", "name")

    # Tests usually pass the `environment` fixture; otherwise a fresh environment.
    environment = factory.LazyFunction(lambda: environment_create(name="Factory"))
    name = factory.Sequence(lambda n: f"event_{n}")


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    profile = factory.SubFactory("profiles.factories.ProfileFactory")
    environment = factory.LazyAttribute(lambda e: e.profile.environment)
    definition = factory.SubFactory(
        EventDefinitionFactory, environment=factory.SelfAttribute("..environment")
    )
    timestamp = factory.LazyFunction(timezone.now)
    received_at = factory.LazyAttribute(lambda e: e.timestamp)
    properties = factory.Dict({})
    message_id = None

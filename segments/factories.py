"""Test factories for segments."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from environments.services import environment_create

from .models import Segment, SegmentKind, SegmentMembership


class SegmentFactory(DjangoModelFactory):
    """A segment row as is (no validation, no recompute queued): use services.segment_create
    to exercise the real path."""

    class Meta:
        model = Segment

    environment = factory.LazyFunction(lambda: environment_create(name="Segments"))
    name = factory.Sequence(lambda n: f"Segment {n}")
    kind = SegmentKind.DYNAMIC
    rules = factory.LazyFunction(lambda: {"op": "and", "conditions": []})


class ManualSegmentFactory(SegmentFactory):
    kind = SegmentKind.MANUAL
    rules = factory.LazyFunction(dict)


class SegmentMembershipFactory(DjangoModelFactory):
    class Meta:
        model = SegmentMembership

    segment = factory.SubFactory(ManualSegmentFactory)
    profile = factory.SubFactory(
        "profiles.factories.ProfileFactory",
        environment=factory.SelfAttribute("..segment.environment"),
    )

"""Test data for trait definitions."""

from __future__ import annotations

import factory

from environments.services import environment_create

from .models import DataType, Scope, Trait


class TraitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Trait
        django_get_or_create = ("environment", "scope", "key")

    # Tests usually pass the `environment` fixture; otherwise a fresh environment.
    environment = factory.LazyFunction(lambda: environment_create(name="Factory"))
    key = factory.Sequence(lambda n: f"trait_{n}")
    data_type = DataType.STRING
    scope = Scope.PROFILE

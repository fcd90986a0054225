"""Test data for webhooks: WebhookEndpointFactory, OutboxEventFactory, DeliveryFactory (rows as
is; use webhooks.services to exercise the real paths)."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from environments.services import environment_create

from .models import Delivery, OutboxEvent, WebhookEndpoint
from .services import new_secret


class WebhookEndpointFactory(DjangoModelFactory):
    class Meta:
        model = WebhookEndpoint

    environment = factory.LazyFunction(lambda: environment_create(name="Webhooks"))
    url = "https://93.184.215.14/hook"
    event_types = factory.LazyFunction(lambda: ["survey.published"])
    secret = factory.LazyFunction(new_secret)


class OutboxEventFactory(DjangoModelFactory):
    class Meta:
        model = OutboxEvent

    environment = factory.LazyFunction(lambda: environment_create(name="Webhooks"))
    event_type = "survey.published"
    data = factory.LazyFunction(lambda: {"survey_id": 0})
    fanned_out = True


class DeliveryFactory(DjangoModelFactory):
    class Meta:
        model = Delivery

    endpoint = factory.SubFactory(WebhookEndpointFactory)
    event = factory.SubFactory(
        OutboxEventFactory, environment=factory.SelfAttribute("..endpoint.environment")
    )

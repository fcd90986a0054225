"""Test data for alerts: AlertSubscriptionFactory(environment=..., user=..., ...)."""

from __future__ import annotations

import factory
from django.utils import timezone

from .models import AlertSubscription, Frequency, Trigger


class AlertSubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AlertSubscription

    name = factory.Sequence(lambda n: f"Alert {n}")
    trigger = Trigger.RESPONSE
    email = True
    slack_url = ""
    frequency = Frequency.IMMEDIATE
    rules = factory.LazyFunction(dict)
    created_at = factory.LazyFunction(timezone.now)

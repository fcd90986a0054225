"""Tracked events and their definitions. Events is the largest table: index for its two reads."""

from __future__ import annotations

from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q
from django.utils import timezone


class EventDefinition(models.Model):
    environment = models.ForeignKey(
        "environments.Environment", on_delete=models.CASCADE, related_name="event_definitions"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    # Rolled up from EventDailyCount by a periodic task: never incremented per event, so
    # concurrent ingestion does not queue on this row's lock.
    total_count = models.BigIntegerField(default=0)
    # Deleted by the team: hidden everywhere at once while a task deletes its events in
    # batches, then the row. The name is free again meanwhile (events tracked under it start a
    # new definition), hence the unique constraint only on live definitions.
    deleting = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "name"],
                condition=Q(deleting=False),
                name="event_definition_env_name_uniq",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Event(models.Model):
    # Partitioned by month on `timestamp` (declarative RANGE partitioning, migration 0004 and
    # events/partitions.py): the primary key in the database is (id, timestamp), every index
    # below is a partitioned index, and retention drops whole months. A unique constraint must
    # include the partition key, so message_id deduplication lives in EventMessage.
    # Every index costs a write per event, so the foreign keys have none of their own: the
    # composite indexes below start with profile and definition, and events are never read by
    # environment alone.
    environment = models.ForeignKey(
        "environments.Environment", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    profile = models.ForeignKey(
        "profiles.Profile", on_delete=models.CASCADE, related_name="events", db_index=False
    )
    definition = models.ForeignKey(
        EventDefinition, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    timestamp = models.DateTimeField(default=timezone.now)
    received_at = models.DateTimeField(default=timezone.now)
    properties = models.JSONField(default=dict, blank=True)
    # Client message id (Segment messageId): a retried call is stored once (EventMessage).
    message_id = models.CharField(max_length=255, null=True, blank=True)

    class Meta:
        indexes = [
            # The user detail panel (events newest first) and segment event conditions per profile.
            models.Index(
                fields=["profile", "definition", "-timestamp"], name="event_profile_def_time"
            ),
            models.Index(fields=["profile", "-timestamp", "-id"], name="event_profile_time"),
            # Segment event conditions evaluated set-wise ("who did E in the last D days"), an
            # index-only scan with the profile included; also deleting a definition's events.
            # Created by segments migration 0003; events migration 0002 adopts and renames it.
            models.Index(
                fields=["definition", "timestamp"],
                include=["profile"],
                name="event_def_time_profile",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.definition_id} @ {self.timestamp:%Y-%m-%d %H:%M}"


class EventMessage(models.Model):
    """The message ids stored per environment: the deduplication of events_event, whose unique
    constraints would have to include the partition key (a retry with another timestamp, in
    another month, would then be stored twice). The tracking statement inserts here first
    (ON CONFLICT DO NOTHING) and stores only the events whose message id was new.

    `timestamp` is the event's, so retention removes a message with its event; its BRIN index
    is a few pages and costs ingestion next to nothing (rows arrive roughly in time order)."""

    pk = models.CompositePrimaryKey("environment", "message_id")
    environment = models.ForeignKey(
        "environments.Environment", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    message_id = models.CharField(max_length=255)
    timestamp = models.DateTimeField()

    class Meta:
        indexes = [BrinIndex(fields=["timestamp"], name="event_message_time_brin")]


class EventDailyCount(models.Model):
    """Per-definition, per-day counts rolled up from Event by a periodic task."""

    definition = models.ForeignKey(
        EventDefinition, on_delete=models.CASCADE, related_name="daily_counts"
    )
    day = models.DateField()
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["definition", "day"], name="event_daily_count_uniq")
        ]


class RollupWatermark(models.Model):
    """How far the event rollup has read, by Event.id (the primary key index serves the range)."""

    name = models.CharField(max_length=50, unique=True)
    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

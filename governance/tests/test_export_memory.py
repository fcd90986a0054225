"""The export streams: its Python heap does not grow with the contact's history (the
benchmark, benchmarks/export.py, measures the same at a million events)."""

from __future__ import annotations

import tracemalloc

import pytest
from django.db import connection

from events.factories import EventDefinitionFactory
from governance import export
from governance.export import contact_export_stream
from profiles.factories import ProfileFactory

pytestmark = pytest.mark.django_db


def _with_events(environment, definition, n: int):
    profile = ProfileFactory(environment=environment)
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO events_event (environment_id, profile_id, definition_id, timestamp,
                   received_at, properties)
               SELECT %s, %s, %s, now() - g * interval '1 second', now(),
                      jsonb_build_object('page', '/pricing/' || g, 'plan', 'pro', 'n', g)
               FROM generate_series(1, %s) g""",
            [environment.pk, profile.pk, definition.pk, n],
        )
    return profile


def _export(profile) -> tuple[int, int]:
    """(bytes of the document, peak of the Python heap while it is consumed piece by piece)."""
    tracemalloc.start()
    try:
        size = sum(len(piece) for piece in contact_export_stream(profile=profile))
        return size, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_export_memory_stays_flat_while_the_events_grow_tenfold(environment, monkeypatch):
    monkeypatch.setattr(export, "CHUNK_ROWS", 200)  # many chunks even for the small one
    definition = EventDefinitionFactory(environment=environment, name="viewed")
    small = _with_events(environment, definition, 2_000)
    large = _with_events(environment, definition, 20_000)
    _export(small)  # imports, caches, prepared statements: not the export's own growth
    small_size, small_peak = _export(small)
    large_size, large_peak = _export(large)
    assert large_size > 9 * small_size
    assert large_peak < 1.5 * small_peak, (small_peak, large_peak)

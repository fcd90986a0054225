"""Fewer indexes on events_event, each one a write per stored event.

- The foreign keys lose their single-column indexes: the composite indexes start with profile
  and definition, and events are never read by environment alone.
- (definition, timestamp) gives way to the covering index segments migration 0003 created; the
  model now declares it (renamed to fit Django's 30-character limit).

Only indexes are dropped (the foreign key constraints stay as they are), so the migration is
instant on a large table.
"""

import django.db.models.deletion
from django.db import migrations, models

# (field, Django's name for its index), for the state change and the reverse SQL.
FK_INDEXES = [
    ("definition", "events_event_definition_id_06fd8e52", "definition_id"),
    ("environment", "events_event_environment_id_504b1549", "environment_id"),
    ("profile", "events_event_profile_id_60d5afe4", "profile_id"),
]
TARGETS = {
    "definition": ("events.eventdefinition", "events"),
    "environment": ("environments.environment", "+"),
    "profile": ("profiles.profile", "events"),
}


def _fk(name):
    to, related_name = TARGETS[name]
    return models.ForeignKey(
        db_index=False,
        on_delete=django.db.models.deletion.CASCADE,
        related_name=related_name,
        to=to,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("environments", "0001_initial"),
        ("events", "0001_initial"),
        ("profiles", "0003_profile_name_trigram"),
        ("segments", "0003_event_covering_index"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="event", name="event_definition_time"),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{index}"',
                    reverse_sql=f'CREATE INDEX "{index}" ON events_event ("{column}")',
                )
                for _, index, column in FK_INDEXES
            ]
            + [
                migrations.RunSQL(
                    "ALTER INDEX segments_event_def_time_profile RENAME TO event_def_time_profile",
                    reverse_sql=(
                        "ALTER INDEX event_def_time_profile RENAME TO segments_event_def_time_profile"
                    ),
                )
            ],
            state_operations=[
                migrations.AlterField(model_name="event", name=name, field=_fk(name))
                for name, _, _ in FK_INDEXES
            ]
            + [
                migrations.AddIndex(
                    model_name="event",
                    index=models.Index(
                        fields=["definition", "timestamp"],
                        include=("profile",),
                        name="event_def_time_profile",
                    ),
                )
            ],
        ),
    ]

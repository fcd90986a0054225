"""A covering index for segment event conditions evaluated over the whole table.

"Performed E at least N times in the last D days" reads every event of E in the window and
groups by profile. With (definition_id, timestamp) alone PostgreSQL must visit the heap for each
row's profile_id (events of one name are scattered over the whole table: at 10M events that is
most of its pages); with profile_id INCLUDEd it is an index-only scan. It makes
events.event_definition_time redundant for reads (the events app may drop that one).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("segments", "0002_safe_timestamptz"), ("events", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS segments_event_def_time_profile "
            "ON events_event (definition_id, timestamp) INCLUDE (profile_id);",
            reverse_sql="DROP INDEX IF EXISTS segments_event_def_time_profile;",
        )
    ]

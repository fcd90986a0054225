"""Trigram index for the Users list search on the profile's name trait.

`Q(traits__name__icontains=...)` compiles to `UPPER((traits ->> 'name')::text) LIKE UPPER(...)`:
the index is on that expression, so typing part of a name is an index lookup, not a scan.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("profiles", "0002_profile_search_trigram")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS profile_name_trgm "
            "ON profiles_profile USING gin (UPPER((traits ->> 'name')::text) gin_trgm_ops);",
            reverse_sql="DROP INDEX IF EXISTS profile_name_trgm;",
        ),
    ]

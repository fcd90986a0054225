"""The sweep reads the responses completed since its cursor (alerts/services.py): an index on
surveys_response.completed_at (partial: completed responses only) makes that a short range scan
every 15 seconds rather than a scan of the table.

The table is the surveys app's; the index is the alerts sweep's only need of it, so it is
created here (by name, IF NOT EXISTS, CONCURRENTLY so a large table stays writable) rather than
by a migration in surveys."""

from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("alerts", "0001_initial"),
        ("surveys", "0003_report_search_index"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS alerts_response_completed_idx "
            "ON surveys_response (completed_at) WHERE completed_at IS NOT NULL",
            "DROP INDEX CONCURRENTLY IF EXISTS alerts_response_completed_idx",
        )
    ]

"""Fill the new flags of existing monthly activity rows, as well as history allows.

`identified`: the profile has a user id or an email today (a row from before this migration
cannot say whether that month's calls named them). `surveyed` and the survey sources: a response
(a view, an answer or a dismissal) created or updated in that month, by its channel. The API and
client sources of older rows are unknown and stay 0. Set-based, one UPDATE each."""

from django.conf import settings
from django.db import migrations

SOURCE_BY_CHANNEL = "CASE r.channel WHEN 'api' THEN 1 WHEN 'web' THEN 2 WHEN 'link' THEN 4 ELSE 8 END"


def backfill(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE profiles_monthlyactivity a SET identified = true
            FROM profiles_profile p
            WHERE p.id = a.profile_id AND (p.user_id IS NOT NULL OR p.email IS NOT NULL)
            """
        )
        cursor.execute(
            f"""
            UPDATE profiles_monthlyactivity a SET surveyed = true, sources = a.sources | s.bits
            FROM (
                SELECT r.profile_id, m.month, bit_or({SOURCE_BY_CHANNEL}) AS bits
                FROM surveys_response r
                CROSS JOIN LATERAL (
                    SELECT DISTINCT date_trunc('month', t AT TIME ZONE %s)::date AS month
                    FROM (VALUES (r.created_at), (r.updated_at)) AS v(t)
                ) m
                GROUP BY r.profile_id, m.month
            ) s
            WHERE s.profile_id = a.profile_id AND s.month = a.month
            """,
            [settings.TIME_ZONE],
        )


class Migration(migrations.Migration):
    dependencies = [
        ("profiles", "0006_monthly_activity_flags"),
        ("surveys", "0003_report_search_index"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]

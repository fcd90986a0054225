"""The queue of profiles to re-evaluate against dynamic segments, written by the ingestion
statements themselves (it replaces a Redis set and a round trip per call)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0003_event_covering_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="DirtyProfile",
            fields=[
                ("profile_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("environment_id", models.BigIntegerField()),
            ],
        ),
    ]

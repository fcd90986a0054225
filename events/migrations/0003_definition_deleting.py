"""A deleted event definition is marked first (hidden, its name free again) and removed by a task
in batches: the name is unique only among live definitions."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("environments", "0001_initial"),
        ("events", "0002_drop_redundant_indexes"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="eventdefinition",
            name="event_definition_env_name_uniq",
        ),
        migrations.AddField(
            model_name="eventdefinition",
            name="deleting",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddConstraint(
            model_name="eventdefinition",
            constraint=models.UniqueConstraint(
                condition=models.Q(("deleting", False)),
                fields=("environment", "name"),
                name="event_definition_env_name_uniq",
            ),
        ),
    ]

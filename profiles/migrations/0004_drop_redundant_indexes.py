"""Drop single-column foreign key indexes that composite indexes already cover (each index is a
write per identify or per first activity of the month). Only the indexes go, not the
constraints, so the migration is instant on a large table."""

import django.db.models.deletion
from django.db import migrations, models

# (model, field, related_name, target, Django's name for the index, table, column)
FK_INDEXES = [
    (
        "monthlyactivity",
        "environment",
        "+",
        "environments.environment",
        "profiles_monthlyactivity_environment_id_0b269b2e",
        "profiles_monthlyactivity",
        "environment_id",
    ),
    (
        "monthlyactivity",
        "profile",
        "monthly_activity",
        "profiles.profile",
        "profiles_monthlyactivity_profile_id_e81b0b7a",
        "profiles_monthlyactivity",
        "profile_id",
    ),
    (
        "profile",
        "environment",
        "profiles",
        "environments.environment",
        "profiles_profile_environment_id_cc61f1c6",
        "profiles_profile",
        "environment_id",
    ),
]


class Migration(migrations.Migration):
    dependencies = [
        ("environments", "0001_initial"),
        ("profiles", "0003_profile_name_trigram"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{index}"',
                    reverse_sql=f'CREATE INDEX "{index}" ON {table} ("{column}")',
                )
                for _, _, _, _, index, table, column in FK_INDEXES
            ],
            state_operations=[
                migrations.AlterField(
                    model_name=model,
                    name=name,
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name=related_name,
                        to=to,
                    ),
                )
                for model, name, related_name, to, _, _, _ in FK_INDEXES
            ],
        ),
    ]

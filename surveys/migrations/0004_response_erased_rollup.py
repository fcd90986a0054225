"""Figures of erased responses (governance's right to erasure), per (environment, day, survey):
the Overview and the survey list add them, so totals stay the same after an erasure
(surveys/report_rollup.py, response_stats_erase). No foreign keys, like the daily roll-up."""

from django.db import migrations

CREATE_SQL = """
CREATE TABLE IF NOT EXISTS surveys_response_erased (
    environment_id bigint NOT NULL,
    day date NOT NULL,
    survey_id bigint NOT NULL,
    views integer NOT NULL DEFAULT 0,
    responses integer NOT NULL DEFAULT 0,
    completed integer NOT NULL DEFAULT 0,
    dismissed integer NOT NULL DEFAULT 0,
    nps_total integer NOT NULL DEFAULT 0,
    nps_promoters integer NOT NULL DEFAULT 0,
    nps_detractors integer NOT NULL DEFAULT 0,
    csat_total integer NOT NULL DEFAULT 0,
    csat_satisfied integer NOT NULL DEFAULT 0,
    ces_total integer NOT NULL DEFAULT 0,
    ces_sum double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (environment_id, day, survey_id)
);
"""


class Migration(migrations.Migration):
    dependencies = [("surveys", "0003_report_search_index")]

    operations = [
        migrations.RunSQL(CREATE_SQL, "DROP TABLE IF EXISTS surveys_response_erased;")
    ]

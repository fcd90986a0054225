"""Tables of the Project Overview's daily rollup (surveys/report_rollup.py explains why).

Plain tables without foreign keys: Django's flush (TRUNCATE of its own tables in transactional
tests) must not trip over references it does not know about.
"""

from django.db import migrations

CREATE_SQL = """
CREATE TABLE IF NOT EXISTS surveys_response_daily (
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
CREATE TABLE IF NOT EXISTS surveys_response_rollup (
    environment_id bigint PRIMARY KEY,
    through_day date NOT NULL,
    computed_at timestamptz NOT NULL
);
"""

DROP_SQL = "DROP TABLE IF EXISTS surveys_response_daily; DROP TABLE IF EXISTS surveys_response_rollup;"


class Migration(migrations.Migration):
    dependencies = [("surveys", "0001_initial")]

    operations = [migrations.RunSQL(CREATE_SQL, DROP_SQL)]

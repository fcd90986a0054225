"""Tables of the results page's daily roll-up (surveys/report_rollup.py, "Results page"), and
its own watermark beside the Overview's: an existing deployment reads the results page live
until the first run after this migration has rolled up every day (a NULL watermark makes that
run a full one). No foreign keys, like the Overview's tables."""

from django.db import migrations

CREATE_SQL = """
CREATE TABLE IF NOT EXISTS surveys_result_answers (
    environment_id bigint NOT NULL,
    survey_id bigint NOT NULL,
    day date NOT NULL,
    key text NOT NULL,
    value jsonb,
    responses integer NOT NULL
);
CREATE INDEX IF NOT EXISTS surveys_result_answers_idx
    ON surveys_result_answers (environment_id, survey_id, day);
CREATE TABLE IF NOT EXISTS surveys_result_paths (
    environment_id bigint NOT NULL,
    survey_id bigint NOT NULL,
    day date NOT NULL,
    answered text[] NOT NULL,
    completed boolean NOT NULL,
    dismissed boolean NOT NULL,
    logic jsonb NOT NULL,
    logic_spec text NOT NULL,
    responses integer NOT NULL
);
CREATE INDEX IF NOT EXISTS surveys_result_paths_idx
    ON surveys_result_paths (environment_id, survey_id, day);
ALTER TABLE surveys_response_rollup ADD COLUMN IF NOT EXISTS results_through_day date;
"""

DROP_SQL = """
DROP TABLE IF EXISTS surveys_result_answers;
DROP TABLE IF EXISTS surveys_result_paths;
ALTER TABLE surveys_response_rollup DROP COLUMN IF EXISTS results_through_day;
"""


class Migration(migrations.Migration):
    dependencies = [("surveys", "0004_response_erased_rollup")]

    operations = [migrations.RunSQL(CREATE_SQL, DROP_SQL)]

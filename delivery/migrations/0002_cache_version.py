"""The client API's cache version (delivery.models.CacheVersion) and the triggers that bump it.

Row-level triggers, each with a WHEN clause so that only a real change fires: segment
recomputes update `segments_segment` (counts, timestamps) all the time, and only a new name
matters here; a response matters only when its completion changes for a survey with a
response limit. The environment of a survey's child row (targeting, question, translation) is
read from the survey; when the survey is being deleted in the same statement it may be gone,
and its own trigger bumps the version.
"""

from django.db import migrations, models

FUNCTIONS = """
CREATE OR REPLACE FUNCTION delivery_cache_bump(env bigint) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO delivery_cacheversion (environment_id, version) VALUES (env, 1)
  ON CONFLICT (environment_id) DO UPDATE SET version = delivery_cacheversion.version + 1
$$;

-- Rows with an environment_id column (surveys, segments, settings).
CREATE OR REPLACE FUNCTION delivery_cache_bump_env() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN PERFORM delivery_cache_bump(OLD.environment_id); END IF;
  IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.environment_id <> OLD.environment_id) THEN
    PERFORM delivery_cache_bump(NEW.environment_id);
  END IF;
  RETURN NULL;
END $$;

-- The environment itself.
CREATE OR REPLACE FUNCTION delivery_cache_bump_environment() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM delivery_cache_bump(NEW.id);
  RETURN NULL;
END $$;

-- Rows of a survey (targeting, questions, translations).
CREATE OR REPLACE FUNCTION delivery_cache_bump_survey() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE env bigint;
BEGIN
  IF TG_OP <> 'INSERT' THEN
    SELECT environment_id INTO env FROM surveys_survey WHERE id = OLD.survey_id;
    IF env IS NOT NULL THEN PERFORM delivery_cache_bump(env); END IF;
  END IF;
  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.survey_id <> OLD.survey_id) THEN
    SELECT environment_id INTO env FROM surveys_survey WHERE id = NEW.survey_id;
    IF env IS NOT NULL THEN PERFORM delivery_cache_bump(env); END IF;
  END IF;
  RETURN NULL;
END $$;

-- A response whose completion changed, when its survey stops after N completed responses.
CREATE OR REPLACE FUNCTION delivery_cache_bump_limited() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE row_ surveys_response;
BEGIN
  IF TG_OP = 'DELETE' THEN row_ := OLD; ELSE row_ := NEW; END IF;
  IF EXISTS (SELECT 1 FROM delivery_surveytargeting
             WHERE survey_id = row_.survey_id AND response_limit IS NOT NULL) THEN
    PERFORM delivery_cache_bump(row_.environment_id);
  END IF;
  RETURN NULL;
END $$;
"""

TRIGGERS = """
CREATE TRIGGER delivery_cache_survey AFTER INSERT OR DELETE ON surveys_survey
  FOR EACH ROW EXECUTE FUNCTION delivery_cache_bump_env();
CREATE TRIGGER delivery_cache_survey_update AFTER UPDATE ON surveys_survey
  FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION delivery_cache_bump_env();

CREATE TRIGGER delivery_cache_settings AFTER INSERT OR DELETE ON delivery_deliverysettings
  FOR EACH ROW EXECUTE FUNCTION delivery_cache_bump_env();
CREATE TRIGGER delivery_cache_settings_update AFTER UPDATE ON delivery_deliverysettings
  FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION delivery_cache_bump_env();

CREATE TRIGGER delivery_cache_segment_update AFTER UPDATE ON segments_segment
  FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name
                     OR OLD.environment_id IS DISTINCT FROM NEW.environment_id)
  EXECUTE FUNCTION delivery_cache_bump_env();
CREATE TRIGGER delivery_cache_segment_delete AFTER DELETE ON segments_segment
  FOR EACH ROW EXECUTE FUNCTION delivery_cache_bump_env();

CREATE TRIGGER delivery_cache_environment AFTER UPDATE ON environments_environment
  FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
  EXECUTE FUNCTION delivery_cache_bump_environment();

CREATE TRIGGER delivery_cache_targeting AFTER INSERT OR DELETE ON delivery_surveytargeting
  FOR EACH ROW EXECUTE FUNCTION delivery_cache_bump_survey();
CREATE TRIGGER delivery_cache_targeting_update AFTER UPDATE ON delivery_surveytargeting
  FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION delivery_cache_bump_survey();

CREATE TRIGGER delivery_cache_question AFTER INSERT OR DELETE ON surveys_question
  FOR EACH ROW EXECUTE FUNCTION delivery_cache_bump_survey();
CREATE TRIGGER delivery_cache_question_update AFTER UPDATE ON surveys_question
  FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION delivery_cache_bump_survey();

CREATE TRIGGER delivery_cache_translation AFTER INSERT OR DELETE ON delivery_surveytranslation
  FOR EACH ROW EXECUTE FUNCTION delivery_cache_bump_survey();
CREATE TRIGGER delivery_cache_translation_update AFTER UPDATE ON delivery_surveytranslation
  FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION delivery_cache_bump_survey();

CREATE TRIGGER delivery_cache_response_insert AFTER INSERT ON surveys_response
  FOR EACH ROW WHEN (NEW.completed_at IS NOT NULL)
  EXECUTE FUNCTION delivery_cache_bump_limited();
CREATE TRIGGER delivery_cache_response_update AFTER UPDATE OF completed_at ON surveys_response
  FOR EACH ROW WHEN ((OLD.completed_at IS NULL) <> (NEW.completed_at IS NULL))
  EXECUTE FUNCTION delivery_cache_bump_limited();
CREATE TRIGGER delivery_cache_response_delete AFTER DELETE ON surveys_response
  FOR EACH ROW WHEN (OLD.completed_at IS NOT NULL)
  EXECUTE FUNCTION delivery_cache_bump_limited();
"""

DROP = """
DROP TRIGGER IF EXISTS delivery_cache_survey ON surveys_survey;
DROP TRIGGER IF EXISTS delivery_cache_survey_update ON surveys_survey;
DROP TRIGGER IF EXISTS delivery_cache_settings ON delivery_deliverysettings;
DROP TRIGGER IF EXISTS delivery_cache_settings_update ON delivery_deliverysettings;
DROP TRIGGER IF EXISTS delivery_cache_segment_update ON segments_segment;
DROP TRIGGER IF EXISTS delivery_cache_segment_delete ON segments_segment;
DROP TRIGGER IF EXISTS delivery_cache_environment ON environments_environment;
DROP TRIGGER IF EXISTS delivery_cache_targeting ON delivery_surveytargeting;
DROP TRIGGER IF EXISTS delivery_cache_targeting_update ON delivery_surveytargeting;
DROP TRIGGER IF EXISTS delivery_cache_question ON surveys_question;
DROP TRIGGER IF EXISTS delivery_cache_question_update ON surveys_question;
DROP TRIGGER IF EXISTS delivery_cache_translation ON delivery_surveytranslation;
DROP TRIGGER IF EXISTS delivery_cache_translation_update ON delivery_surveytranslation;
DROP TRIGGER IF EXISTS delivery_cache_response_insert ON surveys_response;
DROP TRIGGER IF EXISTS delivery_cache_response_update ON surveys_response;
DROP TRIGGER IF EXISTS delivery_cache_response_delete ON surveys_response;
DROP FUNCTION IF EXISTS delivery_cache_bump_limited();
DROP FUNCTION IF EXISTS delivery_cache_bump_survey();
DROP FUNCTION IF EXISTS delivery_cache_bump_environment();
DROP FUNCTION IF EXISTS delivery_cache_bump_env();
DROP FUNCTION IF EXISTS delivery_cache_bump(bigint);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("delivery", "0001_targeting_settings_translations_receipts"),
        ("environments", "0001_initial"),
        ("segments", "0005_membership_history_outlives_profiles"),
        ("surveys", "0004_response_erased_rollup"),
    ]

    operations = [
        migrations.CreateModel(
            name="CacheVersion",
            fields=[
                ("environment_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("version", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunSQL(FUNCTIONS + TRIGGERS, DROP),
    ]

"""hark_safe_timestamptz(text): parse an ISO 8601 date or date-time, NULL when it is not one.

Trait values are user data: a "date" trait may hold "soon" or "2024-02-31". A plain cast would
abort the whole segment query; this function never raises. The regular expression rejects most
non-dates without entering the exception block (which costs a subtransaction).
"""

from django.db import migrations

CREATE = r"""
CREATE OR REPLACE FUNCTION hark_safe_timestamptz(value text) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
  IF value IS NULL OR value !~ '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?)?$' THEN
    RETURN NULL;
  END IF;
  BEGIN
    RETURN value::timestamptz;
  EXCEPTION WHEN others THEN
    RETURN NULL;
  END;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("segments", "0001_initial")]

    operations = [
        migrations.RunSQL(CREATE, reverse_sql="DROP FUNCTION IF EXISTS hark_safe_timestamptz(text);")
    ]

"""Store every profile's email in its canonical form (core.ingest.canonical_email: stripped,
lower-cased), the one form identify, track, contact lookups, survey links and segment imports
now use. Before, the API stored `AU3@EX.COM` as sent while survey links lower-cased, so one
person could be two profiles, and a lookup by `au3@ex.com` missed `AU3@EX.COM`.

Profiles that come to share an email are left as they are, not merged. An email was never
unique (several identified users may share one, and lookups by email already choose the best
match: identified first, then the most recently seen), so sharing one breaks nothing; and two
profiles may belong to two people (two user ids) or carry different histories, which no
migration can tell apart safely: merging is a judgement for the team, made by identifying the
user with both ids' data, not for a schema upgrade. From now on no new duplicate by case arises.

Only rows whose email is not already canonical are read (upper-case ASCII, surrounding spaces,
or any non-ASCII character, whose lower case only Python's rules decide); they are rewritten
in batches. Reversing does nothing: the original spelling is not kept, and is not needed.
"""

from django.db import migrations

BATCH = 2000


def canonical_emails(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, email FROM profiles_profile WHERE email IS NOT NULL "
            "AND (email <> lower(email) OR email <> btrim(email) OR email !~ '^[ -~]*$') "
            "ORDER BY id"
        )
        rows = cursor.fetchall()
        changes = [(pk, email.strip().lower()) for pk, email in rows]
        changes = [(pk, new) for (pk, new), (_, old) in zip(changes, rows, strict=True) if new != old]
        for start in range(0, len(changes), BATCH):
            chunk = changes[start : start + BATCH]
            cursor.execute(
                "UPDATE profiles_profile p SET email = v.email "
                "FROM unnest(%s::bigint[], %s::text[]) AS v(id, email) WHERE p.id = v.id",
                [[pk for pk, _ in chunk], [email or None for _, email in chunk]],
            )


class Migration(migrations.Migration):
    dependencies = [("profiles", "0004_drop_redundant_indexes")]

    operations = [migrations.RunPython(canonical_emails, migrations.RunPython.noop, elidable=True)]

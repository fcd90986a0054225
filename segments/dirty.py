"""Marking profiles for re-evaluation from inside an ingestion statement.

Identify and track are each one statement; `mark_dirty_cte` is the part of it that queues the
profiles they touched in segments_dirtyprofile (models.DirtyProfile), when the environment has
any dynamic segment. segments.services.segment_dirty_profiles_drain empties the queue. No
imports here: profiles and events build their statements from it at import time.
"""

from __future__ import annotations


def mark_dirty_cte(ids_sql: str, *, env: str = "env", name: str = "dirty") -> str:
    """A data-modifying CTE `name` queueing the profile ids that `ids_sql` (a query with one
    column) returns, for the environment in parameter `env`. Ids are sorted so concurrent
    statements take the queue's row locks in the same order."""
    return f"""{name} AS (
    INSERT INTO segments_dirtyprofile (profile_id, environment_id)
    SELECT DISTINCT ids.id, %({env})s::bigint FROM ({ids_sql}) AS ids(id)
    WHERE ids.id IS NOT NULL AND EXISTS (
        SELECT 1 FROM segments_segment s
        WHERE s.environment_id = %({env})s AND s.kind = 'dynamic'
    )
    ORDER BY 1
    ON CONFLICT (profile_id) DO NOTHING
)"""

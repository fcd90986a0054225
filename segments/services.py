"""Writes for segments: rules, membership, recomputes. (The segments issue fills this module.)"""

from __future__ import annotations

from collections.abc import Iterable


def segment_profiles_changed(*, environment_id: int, profile_ids: Iterable[int]) -> None:
    """The seam ingestion and surveys call after a profile's data changed (after commit):
    re-evaluate those profiles against the environment's dynamic segments, batched.

    Placeholder until the segments issue lands its evaluator: nothing to re-evaluate yet.
    """
    return None

"""What outside the segments app uses a segment, asked before it is deleted.

Other apps refer to segments (a survey's web targeting includes or excludes them by id, an
alert subscription watches one); deleting a segment they use would change what they do without
a word (a survey shown to nobody, or to the people it meant to leave out; an alert gone with
it). Those apps own their tables and already depend on segments, so rather than segments
reading them, each registers a finder here in its AppConfig.ready(): given a segment, the names
of what uses it (its own environment's only), and the sentence that says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Segment


@dataclass(frozen=True)
class SegmentUse:
    """`find(segment)` returns the names of what uses it; `message` holds "{names}"."""

    find: Callable[[Segment], Iterable[str]]
    message: str


_USES: list[SegmentUse] = []


def register_segment_use(find: Callable[[Segment], Iterable[str]], *, message: str) -> None:
    _USES.append(SegmentUse(find, message))


def _quoted(names: list[str], limit: int = 10) -> str:
    shown = ", ".join(f"“{n}”" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def segment_uses_elsewhere(segment: Segment) -> list[str]:
    """One sentence per kind of use found (none: nothing outside segments uses it)."""
    sentences = []
    for use in _USES:
        names = sorted(use.find(segment))
        if names:
            sentences.append(use.message.format(names=_quoted(names)))
    return sentences

"""Which entries a timeline shows: a typed filter the diary takes (not to be confused with an entry's
``Audience``, who can read it).

``ALL`` every entry (muted and blocked authors left out); ``TimelineFilter.circle(name)`` my entries
sealed to the circle and those written by its members; ``ONLY_ME`` my entries nobody else can read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FilterKind = Literal["all", "circle", "only_me"]


@dataclass(frozen=True)
class TimelineFilter:
    """A timeline filter: ``kind`` and, for a circle, its ``name`` (hashable: used as a dict key)."""

    kind: FilterKind = "all"
    name: str = ""

    @classmethod
    def circle(cls, name: str) -> TimelineFilter:
        return cls("circle", name)

    @classmethod
    def of(cls, circle: str | None = None, only_me: bool = False) -> TimelineFilter:
        """From the keyword form the CLI uses (``circle=NAME`` or ``only_me=True``; neither: all)."""
        if only_me:
            return ONLY_ME
        if circle is not None:
            return cls.circle(circle)
        return ALL

    @property
    def circle_name(self) -> str | None:
        return self.name if self.kind == "circle" else None

    @property
    def only_me(self) -> bool:
        return self.kind == "only_me"

    @property
    def label(self) -> str:
        """What the sidebar calls it: "All", the circle's name, "Only me"."""
        return {"all": "All", "only_me": "Only me"}.get(self.kind, self.name)


ALL = TimelineFilter("all")
ONLY_ME = TimelineFilter("only_me")

"""A test's markers, read once: pytest finds a marker by walking the test's node chain every
time it is asked, and the toolkit asks about ten times per test."""

from __future__ import annotations

import pytest

_CLOSEST = pytest.StashKey[tuple[int, dict[str, pytest.Mark]]]()


def closest_marker(item: pytest.Item, name: str) -> pytest.Mark | None:
    """`item.get_closest_marker(name)`. Read again if the test gained a marker since (a
    fixture calling `request.node.add_marker`)."""
    own = len(item.own_markers)
    cached = item.stash.get(_CLOSEST, None)
    if cached is None or cached[0] != own:
        closest: dict[str, pytest.Mark] = {}
        for mark in item.iter_markers():  # the test's own first, then its parents'
            closest.setdefault(mark.name, mark)
        cached = item.stash[_CLOSEST] = (own, closest)
    return cached[1].get(name)

"""Which assets and open cases would change grid if a proposal were published."""

from __future__ import annotations

from typing import Any

import numpy as np

from geo.planning.workload import AssetPoints, Assets, assign


def _moves(kind: AssetPoints, before: np.ndarray, before_keys: list[str],
           after: np.ndarray, after_keys: list[str]) -> list[dict[str, Any]]:
    was = assign(kind.lonlat, before)
    will = assign(kind.lonlat, after)
    moves = []
    for i in range(len(kind)):
        old = before_keys[was[i]] if was[i] >= 0 else None
        new = after_keys[will[i]] if will[i] >= 0 else None
        if old != new:
            moves.append({"id": int(kind.ids[i]), "label": kind.labels[i], "from": old, "to": new})
    return moves


def impact(assets: Assets, before: np.ndarray, before_keys: list[str],
           after: np.ndarray, after_keys: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Per kind, each asset whose grid differs between ``before`` and ``after`` (WGS84 grids).

    Grids are matched by key: a reshaped grid that keeps its code keeps the
    assets that stay inside it. ``to`` is null for an asset no proposed grid
    covers (it falls in a gap).
    """
    return {
        "buildings": _moves(assets.buildings, before, before_keys, after, after_keys),
        "cameras": _moves(assets.cameras, before, before_keys, after, after_keys),
        "stall_zones": _moves(assets.stall_zones, before, before_keys, after, after_keys),
        "open_cases": _moves(assets.open_cases, before, before_keys, after, after_keys),
    }

"""``wangge init``, ``wangge import`` and ``wangge export``: a district's own data in and out."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the data commands to the ``wangge`` parser."""

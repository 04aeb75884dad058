"""The demo city: a generated district on a real boundary, deterministic from a seed."""

"""Refusal directions: the SteeringVector value object (extraction and layer choice come later)."""

from rass.directions.vector import SteeringVector

__all__ = ["SteeringVector"]

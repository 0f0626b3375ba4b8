"""rass: probe, select, benchmark and mitigate over-refusal at a chat model's safety boundary.

The package root stays import-light (no torch, no transformers) so that ``import rass`` and the
CLI start fast; heavy modules are imported where they are used.
"""

from rass.errors import RassError

__version__ = "0.1.0"

__all__ = ["RassError", "__version__"]

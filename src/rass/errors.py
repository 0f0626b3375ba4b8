"""Typed errors: the library raises these, the CLI turns them into one-line messages."""

from __future__ import annotations


class RassError(Exception):
    """Base class of every error rass raises on purpose (bad input, missing files, mismatches)."""


class UnknownModelError(RassError):
    """A model SPEC that is neither a registry id, a local folder, a hub id nor ``tiny:*``."""


class MissingPackagesError(RassError):
    """The registry packages that carry a model's weights are not installed."""


class IntegrityError(RassError):
    """Downloaded or assembled bytes do not match the recorded size or sha256."""


class ModelNotPreparedError(RassError):
    """A registry model whose safetensors cache has not been built yet."""


class ModelLoadError(RassError):
    """A model or tokenizer could not be loaded from its folder or hub id."""


class DimensionMismatchError(RassError):
    """A direction or tensor whose size does not fit the model it is used with."""


class EmptyInputError(RassError):
    """An empty prompt list, an empty prompt or an empty file."""


class PromptTooLongError(RassError):
    """A prompt that does not fit the model's context window."""


class DataError(RassError):
    """Malformed data: bad JSON, missing fields, unknown labels, duplicate ids."""

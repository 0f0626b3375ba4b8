"""Models: the embedded registry, SPEC resolution and the ChatModel wrapper.

Import the submodules you need (``rass.models.chat``, ``rass.models.spec``); this package module
stays light so the CLI starts fast.
"""

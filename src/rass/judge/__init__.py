"""Refusal judges: did a response comply, refuse or partly refuse? One protocol, several judges.

Import ``rass.judge.base`` for the protocol and registry; judges load lazily by name.
"""

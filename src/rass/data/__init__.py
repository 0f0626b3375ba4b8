"""Prompt data: the PromptRecord schema, readers/writers and the shipped seed sets."""

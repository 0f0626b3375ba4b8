"""Candidate generation: turn harmful seeds into benign look-alike candidates (LLM, steering, rules)."""

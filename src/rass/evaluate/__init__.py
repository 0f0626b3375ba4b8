"""Evaluation: generate answers to a benchmark, judge them, and report safety and helpfulness."""

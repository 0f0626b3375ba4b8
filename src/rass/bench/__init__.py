"""MORBench: a multilingual over-refusal benchmark built from boundary prompts and contrasts."""

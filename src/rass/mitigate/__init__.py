"""Mitigation: reduce over-refusal with boundary prompts (LoRA SFT, DPO) or conditional steering."""

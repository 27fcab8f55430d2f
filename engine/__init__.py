"""Computerized adaptive testing engine: pure functions of (bank, config, state)."""

"""Deciding a score: the check registry, trials, expected values, comparison, diagnoses, blame."""

"""Grading a class: reading submissions, running judges, the gradebook, shards, reports."""

"""The judge's side of containment: launching and killing workers, the worker's proxy."""

"""Reference solutions: the single source of truth for the exercises.

Every function body the students write sits between ``### BEGIN SOLUTION`` and
``### END SOLUTION``; ``python -m course stubs`` turns this package into ``exercises/``.
"""

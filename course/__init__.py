"""Builds what students get from the single source of truth in ``solutions/``.

``python -m course stubs`` regenerates ``exercises/``; ``--check`` fails when it has drifted.
"""

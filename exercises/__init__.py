"""Your implementation: activations, layers, network and gradient_check.

Self-check with ``python -m pytest grader/selfcheck.py``; run the experiments on your own code
with ``python -m exercises.experiments``.
"""

"""Your implementation of the exercises: activations, layers, network, gradient_check.

Self-check with ``python -m pytest grader/selfcheck.py``; run the experiments on your own code with
``python -m exercises.experiments``.
"""

"""What runs inside the sandbox: the worker, the template that forks it, its confinement."""

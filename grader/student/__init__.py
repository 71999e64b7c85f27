"""A submission as functions: loading its modules or notebook, calling them in this process."""

"""Private utilities: docstrings, checks and lazy imports."""

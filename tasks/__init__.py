"""Built-in tasks and their models, one module each; installed as ``grokbench.tasks``."""

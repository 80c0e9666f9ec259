"""Built-in methods, one module each; installed as ``grokbench.methods``."""

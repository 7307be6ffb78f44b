"""Ready architectures and training recipes (import each module on its own)."""

"""HTTP layer: one blueprint per audience over the registry, plus shared plumbing."""

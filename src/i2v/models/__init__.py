"""Models by name across backends: the catalogue, the unified request, forgiving names."""

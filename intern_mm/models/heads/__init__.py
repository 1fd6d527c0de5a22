"""intern_mm.models.heads."""

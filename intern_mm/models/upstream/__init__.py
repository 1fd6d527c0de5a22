"""intern_mm.models.upstream."""

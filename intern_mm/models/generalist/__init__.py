"""intern_mm.models.generalist."""

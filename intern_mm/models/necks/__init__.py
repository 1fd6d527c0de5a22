"""intern_mm.models.necks."""

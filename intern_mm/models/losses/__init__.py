"""intern_mm.models.losses."""

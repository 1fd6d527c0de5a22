"""intern_mm.engine.hooks."""

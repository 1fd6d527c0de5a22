"""intern_mm.evaluation.metrics."""

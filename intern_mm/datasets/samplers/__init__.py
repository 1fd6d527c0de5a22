"""intern_mm.datasets.samplers."""

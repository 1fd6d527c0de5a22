"""intern_mm.datasets.transforms."""

"""intern_mm.models.backbones."""

"""Hooks and runner components (loops) of intern_mm."""
from .hooks import *  # noqa: F401,F403
from .runner import *  # noqa: F401,F403

"""Hooks and runner components of intern_mm."""
from .hooks import *  # noqa: F401,F403

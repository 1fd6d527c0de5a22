"""The INTERN upstream paradigm pipeline (Up-A -> Up-E -> Up-G -> downstream)."""

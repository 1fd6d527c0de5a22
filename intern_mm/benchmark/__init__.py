"""GV-B benchmark."""

"""Traces: the JSON Lines trace format (pydantic schema), recording, replay and rendering."""

"""Prompt understanding: motion cues today, enhancement and captions later."""

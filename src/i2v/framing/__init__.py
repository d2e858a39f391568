"""Subject-aware framing: where the subject is in a picture, and which parts of a frame are safe."""

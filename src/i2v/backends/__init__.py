"""Generation backends behind the VideoBackend Protocol, and their registry."""

"""In-process fakes of the external servers i2v talks to, for tests."""

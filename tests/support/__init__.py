"""Helpers the tests share: real servers started for the suite."""

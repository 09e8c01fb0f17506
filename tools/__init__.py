"""Generators: test vectors, sample data."""

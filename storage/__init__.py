"""Dermline storage package."""

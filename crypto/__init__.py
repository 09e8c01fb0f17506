"""Dermline crypto package."""

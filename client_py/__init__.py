"""Dermline client_py package."""

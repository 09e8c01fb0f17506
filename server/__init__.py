"""Dermline server package."""

"""Composition root: settings and the container that picks adapters from configuration."""

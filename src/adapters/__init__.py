"""Adapters: inbound (API, CLI, workers) and outbound (stores, publishers)."""

"""Outbound adapters: persistence, clocks, publishers, security."""

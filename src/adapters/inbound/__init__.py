"""Inbound adapters: REST API, CLI and worker loops."""

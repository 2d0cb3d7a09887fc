"""Ports: the abstract interfaces the core needs from the outside world."""

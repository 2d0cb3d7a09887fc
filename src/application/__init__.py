"""Application layer: ports, use cases, event handlers and the outbox relay. No framework imports."""

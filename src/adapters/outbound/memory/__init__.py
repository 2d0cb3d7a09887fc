"""In-memory implementations of every port (tests, `memory://`)."""

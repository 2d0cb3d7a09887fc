"""SQLAlchemy 2 adapters for SQLite and PostgreSQL (psycopg 3)."""

"""Persistence: SQLAlchemy tables, alembic migrations and the one repository the app talks to."""

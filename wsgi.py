"""WSGI entry point for any server: `gunicorn wsgi:app`."""

from roadworks import create_app

app = create_app()

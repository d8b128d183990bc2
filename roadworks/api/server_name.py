"""The `Server` header: answers name the service, never the software under it (waitress, gunicorn, Python).

A version string tells an attacker which published flaws to try. The WSGI servers write the header
themselves, so each is told the name: waitress by `roadworks serve` (its `ident` option), gunicorn by
gunicorn.conf.py beside wsgi.py. Werkzeug's development server, used only by tests, names itself.
"""

SERVER_NAME = "Roadworks"

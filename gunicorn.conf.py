"""gunicorn reads this file from the directory it starts in (`gunicorn wsgi:app`); `-c` names another.

gunicorn writes `Server: gunicorn` into every answer itself; answers should not name the software under
the service (roadworks/api/server_name.py), so its name is replaced before the workers are forked.
"""

import gunicorn.http.wsgi

from roadworks.api.server_name import SERVER_NAME

gunicorn.http.wsgi.SERVER = SERVER_NAME  # the Server header of every answer
gunicorn.http.wsgi.SERVER_SOFTWARE = SERVER_NAME  # the WSGI environ's SERVER_SOFTWARE, for the same reason

# The app refuses long query strings itself (ROADWORKS_MAX_QUERY_BYTES) with a problem naming the cap;
# gunicorn's own request-line limit (4094 by default) must not answer first with a bare 414.
limit_request_line = 8190


def post_worker_init(worker):
    """Each worker erases residents' contacts that are due, now and then (idempotent, so several may)."""
    from roadworks.reports import start_eraser

    found = worker.wsgi.extensions["roadworks"]
    start_eraser(found.reports, found.clock, float(found.settings["REPORT_ERASE_EVERY_S"]))

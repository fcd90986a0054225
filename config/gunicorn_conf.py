"""Gunicorn settings for the `web` process of the Procfile (`gunicorn -c config/gunicorn_conf.py`).

Every value can still be overridden the usual gunicorn way (GUNICORN_CMD_ARGS, command line).
"""

from __future__ import annotations

import os

# PORT is set by most platforms; locally gunicorn serves on 8000.
bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Worker processes: WEB_CONCURRENCY, else two per core (Hark's requests wait mostly on
# PostgreSQL, so a little more than one per core keeps the cores busy).
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * (os.cpu_count() or 1))
# Recycle workers now and then so a slow leak never grows unbounded (not too often: a new worker
# imports Django, connects and prepares its statements again, a latency spike under load).
max_requests = 50_000
max_requests_jitter = 5_000
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
# Behind a proxy: trust its X-Forwarded-* headers (FORWARDED_ALLOW_IPS, default the local one).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
# The access log never holds a secret: ?api_key=, signatures, tokens, the Basic auth user (the
# REST API's key) and set-password tokens are written as [redacted] (core/redact.py).
logger_class = "core.redact.RedactingGunicornLogger"

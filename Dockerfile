# syntax=docker/dockerfile:1
# timebot image: a builder stage makes the wheel and a virtualenv, a slim runtime stage runs it
# as an unprivileged user. The same image runs every role; the command picks it:
#   docker run IMAGE                 -> timebot serve (web)
#   docker run IMAGE worker          -> timebot worker
#   docker run IMAGE migrate         -> timebot migrate (run before rolling web and worker)
# See docs/deploy.md. tests/e2e/test_deployment.py checks this file without Docker.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Everything the wheel is built from, and nothing else (.dockerignore keeps caches out).
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/timebot \
    && /opt/timebot/bin/pip install --upgrade pip \
    && /opt/timebot/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/timebot/bin/pip install /wheels/timebot-*.whl \
    && /opt/timebot/bin/timebot --version

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
# The venv's scripts point at /opt/timebot/bin/python: same path, same base image.
COPY --from=builder /opt/timebot /opt/timebot
RUN groupadd --system --gid 10001 timebot \
    && useradd --system --uid 10001 --gid timebot --home-dir /var/lib/timebot \
        --no-create-home --shell /usr/sbin/nologin timebot \
    && install -d -o timebot -g timebot -m 0750 /var/lib/timebot
ENV PATH=/opt/timebot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    TIMEBOT_ENVIRONMENT=production \
    TIMEBOT_HOST=0.0.0.0 \
    TIMEBOT_PORT=8000 \
    TIMEBOT_DATABASE_URL=sqlite+aiosqlite:////var/lib/timebot/timebot.sqlite3
# SQLite file (when no PostgreSQL URL is given) and nothing else lives here.
WORKDIR /var/lib/timebot
VOLUME ["/var/lib/timebot"]
USER 10001:10001
EXPOSE 8000
# Python's urllib instead of curl: the slim image has no curl. A 503 (database down) fails too.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('TIMEBOT_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["timebot"]
CMD ["serve"]

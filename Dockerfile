# One image for web and worker. With no DATABASE_URL/LETTA_PG_URI it runs the
# embedded PostgreSQL+pgvector with its data under /data (mount a volume there).
# The default command (`manage.py serve`) waits for the database, creates the
# vector extension when it may, migrates, collects static files, and serves,
# with the background worker in the same process; run `manage.py worker` in
# more containers to scale that out (docs/deploy.md).
# BASE_IMAGE lets scripts/build-image.sh build from a local Debian base when no
# registry is reachable; any Debian bookworm image with python3.11 works.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    ADE_DATA_DIR=/data \
    ADE_HOST=0.0.0.0 \
    ADE_PORT=8283 \
    ADE_ALLOWED_HOSTS=* \
    ADE_DB_WAIT_SECONDS=60

RUN useradd --create-home --uid 1000 ade \
    && mkdir -p /data /app \
    && chown ade:ade /data /app
WORKDIR /app

# Dependencies first: this layer is reused until requirements.lock changes.
COPY requirements.lock ./
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check -r requirements.lock

COPY --chown=ade:ade . .
RUN python3 -m compileall -q ade agents memory sources

USER ade
VOLUME ["/data"]
EXPOSE 8283
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8283/v1/health/', timeout=4)" || exit 1
CMD ["python3", "manage.py", "serve"]

# One image for web and worker. With no DATABASE_URL/LETTA_PG_URI it runs the
# embedded PostgreSQL+pgvector with its data under /data (mount a volume there).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ADE_DATA_DIR=/data \
    ADE_HOST=0.0.0.0 \
    ADE_PORT=8283 \
    ADE_ALLOWED_HOSTS=*

RUN useradd --create-home --uid 1000 ade \
    && mkdir -p /data /app \
    && chown ade:ade /data /app
WORKDIR /app

COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock

COPY --chown=ade:ade . .
RUN python -m compileall -q ade agents memory

USER ade
VOLUME ["/data"]
EXPOSE 8283
CMD ["python", "manage.py", "serve"]

# syntax=docker/dockerfile:1
# The one image of Signpost: every service runs from it (`signpost ingest|matcher|notifier`,
# `signpost topics create`); docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 signpost \
 && useradd --system --uid 10001 --gid signpost --no-create-home \
            --home-dir /nonexistent --shell /usr/sbin/nologin signpost

# Build from a scratch directory and delete it, so only the installed package is importable.
WORKDIR /src
# README.md* : the readme is optional for the build (pyproject names it; setuptools only warns).
COPY pyproject.toml README.md* ./
COPY schemas ./schemas
COPY services ./services
COPY signpost ./signpost
RUN pip install . \
 && rm -rf /src

WORKDIR /app
USER 10001:10001
ENTRYPOINT ["signpost"]
CMD ["--help"]

# SupplyTrace: `supplytrace` is the entrypoint; docker-compose.yml picks the sub-command per service.
# Alone, `docker run -p 8000:8000 IMAGE` serves the API with its embedded worker on a SQLite file.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /build
# README.md is the package's readme (pyproject.toml), so the build needs it
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . \
    && rm -rf /build \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin supplytrace

USER supplytrace
WORKDIR /home/supplytrace
EXPOSE 8000

ENTRYPOINT ["supplytrace"]
CMD ["serve", "--host", "0.0.0.0"]

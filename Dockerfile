# syntax=docker/dockerfile:1
# Multi-stage: wheels are built in a stage with compilers; the final image has none.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY requirements/ requirements/
RUN python -m venv /venv && /venv/bin/pip install -r requirements/ml.txt -c requirements/constraints.txt

FROM python:3.11-slim-bookworm AS app
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    AAITI_ENV=production AAITI_VAR_DIR=/var/lib/aaiti STATIC_ROOT=/app/staticfiles
RUN useradd --system --uid 10001 --home /app aaiti && mkdir -p /var/lib/aaiti \
    && chown aaiti /var/lib/aaiti
COPY --from=build /venv /venv
WORKDIR /app
COPY --chown=aaiti . .
# collectstatic needs settings but no secrets: a throwaway key for this step only.
RUN SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput -v0
USER aaiti
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/api/health', timeout=4).status == 200 else 1)"
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "aaiti.asgi:application"]

# neural-trader: the API server (`neural-trader serve`) with the paper session inside.
# Build: docker build -t neural-trader .      Run: docker compose up
#
# Stage 1 builds a virtualenv from the pinned lock; stage 2 copies it into a slim runtime
# that runs as an unprivileged user. torch comes from PyTorch's CPU index (the lock pins
# torch==2.13.0; the default index would pull the multi-GB CUDA build).
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements.lock ./
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.lock
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-deps .

FROM python:3.11-slim AS runtime
RUN groupadd --system --gid 10001 trader \
 && useradd --system --uid 10001 --gid trader --home-dir /app --shell /usr/sbin/nologin trader \
 && mkdir -p /app/data && chown trader:trader /app/data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    NT_API__REST__HOST=0.0.0.0 \
    NT_API__REST__PORT=8080 \
    NT_LOG__JSON=true
WORKDIR /app
USER trader
EXPOSE 8080
# uvicorn handles SIGTERM: stop accepting, tell WebSocket clients, let the paper session
# checkpoint and the ledger flush (see api/app.py `_shutdown`), then exit.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/health/live', timeout=4).status != 200)"
ENTRYPOINT ["neural-trader"]
CMD ["serve"]

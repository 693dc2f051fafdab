# syntax=docker/dockerfile:1
#
# accord: the HTTP API (8080) over the demo definitions and a demo DuckDB
# warehouse baked into the image.
#
#   docker build -t accord .
#   docker run --rm -p 8080:8080 -e ACCORD_JWT_SECRET=<32+ byte secret> accord
#   TOKEN=$(docker run --rm -e ACCORD_JWT_SECRET=<same secret> accord token --role analyst)
#   curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
#     -d '{"metrics":["revenue"],"dimensions":["metric_time:month"]}' \
#     http://127.0.0.1:8080/v1/query
#
# The demo definitions carry access policies (metric_defs/policies.yml), so
# a request needs a role: without a token secret, queries answer 403. No
# secret is baked into the image.
#
# Point it at your own warehouse and definitions with
#   -e ACCORD_WAREHOUSE=postgres://user:pass@host/db -v $PWD/defs:/app/metric_defs:ro

# ---------------------------------------------------------------- builder
FROM rust:1-bookworm AS builder
WORKDIR /src
# The manifest lists the benches, so cargo wants their files even for a
# plain build; dialects/*.yaml are compiled into the binary (include_str!).
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY crates ./crates
COPY dialects ./dialects
COPY benches ./benches
# DuckDB is built from its bundled C++ sources (g++ is in this image): the
# first build takes several minutes; the cache mounts keep later ones fast.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
 && install -D -m 0755 target/release/accord /out/accord

# ---------------------------------------------------------------- runtime
FROM debian:bookworm-slim
# ca-certificates: TLS to remote warehouses. curl: the HEALTHCHECK below
# (the accord binary has no HTTP client of its own).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 accord \
 && useradd --system --uid 10001 --gid accord --home-dir /app --shell /usr/sbin/nologin accord

COPY --from=builder /out/accord /usr/local/bin/accord
# The definitions served by default, and the dialect specifications (already
# embedded in the binary; shipped so the image documents what it compiles).
COPY metric_defs /app/metric_defs
COPY dialects /app/dialects
COPY openapi.yaml /app/openapi.yaml

# /data holds the warehouse file and is the working directory, so anything
# else accord writes relative to its cwd lands somewhere writable.
RUN mkdir -p /data && chown accord:accord /data
USER accord
WORKDIR /data

ENV ACCORD_HTTP_ADDR=0.0.0.0:8080 \
    ACCORD_DEFS=/app/metric_defs \
    ACCORD_WAREHOUSE=duckdb:///data/accord-demo.duckdb

# accord only creates the demo warehouse on first use when the URL is
# exactly the default `duckdb://accord-demo.duckdb`; with the absolute path
# above it would open an empty database instead. So load the demo data now,
# at build time, as the runtime user (the file belongs to it). Mounting a
# volume over /data hides this file: run `accord demo init` in the container
# once in that case.
RUN accord demo init --warehouse "$ACCORD_WAREHOUSE"

# 8080: HTTP API. 15432: the PostgreSQL wire endpoint.
EXPOSE 8080 15432

# /healthz is liveness only; /readyz would also fail while the warehouse is
# down, which restarts would not fix. It checks port 8080: override it when
# ACCORD_HTTP_ADDR listens elsewhere.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD curl --fail --silent --max-time 2 http://127.0.0.1:8080/healthz >/dev/null || exit 1

ENTRYPOINT ["accord"]
CMD ["serve"]

# Build: the Rust toolchain with the app's sources; no system libraries needed (pure-Rust
# PostgreSQL driver and TLS).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin junction --bin tune-sandbox

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /data junction && mkdir -p /data && chown junction /data
COPY --from=build /src/target/release/junction /src/target/release/tune-sandbox /usr/local/bin/
USER junction
WORKDIR /data
ENV JUNCTION_BIND=0.0.0.0:8080
# SIGTERM drains requests in flight (JUNCTION_SHUTDOWN_TIMEOUT_SECS) before the exit.
STOPSIGNAL SIGTERM
# 9464: Prometheus metrics, when JUNCTION_METRICS_BIND is set.
EXPOSE 8080 9464
CMD ["junction"]

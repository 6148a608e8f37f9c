# Multi-stage build: compile in the Rust image, run on a slim Debian with libpq.
FROM rust:1-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev pkg-config && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release -p gateway-server --bin auth-gateway

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /data gateway && mkdir -p /data && chown gateway /data
COPY --from=build /src/target/release/auth-gateway /usr/local/bin/auth-gateway
USER gateway
ENV GATEWAY_BIND=0.0.0.0:3000 GATEWAY_DATA_DIR=/data
VOLUME /data
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:3000/ready || exit 1
ENTRYPOINT ["auth-gateway"]
CMD ["serve"]

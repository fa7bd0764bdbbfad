# Local test instance: `docker build -t crm-odata . && docker run -p 8080:8080 crm-odata`
# starts the demo (embedded SQLite in /data, demo workspace, token printed on start).
# For PostgreSQL and Redis pass DATABASE_URL / REDIS_URL and run `serve` instead.
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev libssl-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin crm-odata

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 libssl3 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/crm-odata /usr/local/bin/crm-odata
WORKDIR /data
ENV DATABASE_URL=sqlite:///data/crm-odata.db
EXPOSE 8080
CMD ["crm-odata", "demo", "--bind", "0.0.0.0:8080"]

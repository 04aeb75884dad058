# wangge service image; the database is the postgis/postgis service of docker-compose.yml.
# Debian 12 (bookworm): its postgresql-client-15 matches the PostGIS 15 server
FROM python:3.11-slim-bookworm
# pg_dump/pg_restore for `wangge db backup|restore` (the server is PostgreSQL 15)
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY geo ./geo
COPY layers ./layers
COPY maps ./maps
COPY api ./api
RUN pip install --no-cache-dir . \
    && useradd --system --home-dir /app --shell /usr/sbin/nologin wangge
# never root at run time; `docker compose run --user "$(id -u)"` to write into a mounted folder
USER wangge
ENV WANGGE_HOST=0.0.0.0 WANGGE_PORT=8000
EXPOSE 8000
# migrate, then serve whatever the database holds (the demo is `wangge demo`, opt-in)
CMD ["wangge", "serve", "--host", "0.0.0.0", "--port", "8000"]

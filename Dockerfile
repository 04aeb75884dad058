# wangge service image; the database is the postgis/postgis service of docker-compose.yml
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY geo ./geo
COPY layers ./layers
COPY maps ./maps
COPY api ./api
RUN pip install --no-cache-dir .
ENV WANGGE_HOST=0.0.0.0 WANGGE_PORT=8000
EXPOSE 8000
# migrate, build the demo city once, then serve
CMD ["wangge", "demo", "--host", "0.0.0.0", "--port", "8000"]

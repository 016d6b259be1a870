# The platform's services (simulator, game ingest, sink, analytics, dashboard) in one image;
# which one a container runs is its command (see docker-compose.yml).
FROM python:3.11-slim-bookworm

# Spark needs a Java 17 runtime; Maven fetches its Kafka and Avro connector jars below.
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless maven \
    && rm -rf /var/lib/apt/lists/*

ENV F1_CACHE_DIR=/opt/f1-cache \
    F1_STATE_DIR=/data/state \
    PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY runtime runtime
COPY circuit circuit
COPY schemas schemas
COPY producer producer
COPY storage storage
COPY sinks sinks
COPY analytics analytics
COPY dashboard dashboard
COPY stack stack
COPY ingest ingest
COPY replay replay
RUN pip install --no-cache-dir -e '.[all]' \
    && python -c "from stack import spark_jars; spark_jars.install()" \
    && rm -rf /opt/f1-cache/m2
# Compile the simulator's and the encoder's numba functions once, into the image's cache,
# so that a fresh container starts streaming at once.
RUN python -c "from circuit import silverstone; \
from producer.simulation import Simulation; Simulation(silverstone(), 1).step(); \
import schemas.columnar.kernels"

# The services run as an unprivileged user; what they write (the analytics checkpoint, numba's
# cache of functions it compiles anew) is theirs.
RUN useradd --system --uid 10001 --home-dir /data --no-create-home f1 \
    && mkdir -p /data/state \
    && chown -R f1:f1 /data /app
USER f1

EXPOSE 5006
CMD ["f1-simulate", "--help"]

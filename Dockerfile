# The project image: Python 3.11 and Java 17 with the locked dependencies (requirements.lock).
# docker-compose.yml runs every service of its own from this one image: Airflow's components,
# the Spark standalone master and workers (spark-class of the locked pyspark, so the driver and
# the cluster run the same Spark), and the dashboard.
#
# Debian bookworm: its openjdk-17 is the Java that Spark 4 runs on (later Debian releases ship 21 only).
FROM python:3.11.14-slim-bookworm

# Java 17 for Spark; curl for the healthchecks; Pango's FreeType backend and a font for
# WeasyPrint (the monthly statement's PDF).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        openjdk-17-jre-headless curl libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# Installed from the lock, exactly (uv pip sync installs the lock and nothing it does not name),
# as `make setup` does; the uv version is the Makefile's.
WORKDIR /app
COPY requirements.lock pyproject.toml ./
RUN pip install --no-cache-dir uv==0.13.9 \
    && uv pip sync --system --no-cache requirements.lock

# The project's code; an editable install gives the `teamlens` command without copying the code
# into site-packages (the policy and the DAGs stay under /app, where the settings look for them).
COPY foundation ./foundation
COPY jobs ./jobs
COPY expectations ./expectations
COPY privacy ./privacy
COPY warehouse ./warehouse
COPY teamlens ./teamlens
COPY dags ./dags
COPY tools ./tools
COPY docs ./docs
COPY README.md ./
RUN uv pip install --system --no-cache --no-deps -e .

# A non-root user (Airflow's convention: UID 50000, group 0, so that another AIRFLOW_UID in
# group 0 can still write). The zones are created here so that the named volumes mounted on them
# start out owned by that user. /data/reports/checkpoints is a volume of its own (the dashboard
# reads it; the rest of the reports zone is restricted).
ENV AIRFLOW_HOME=/opt/airflow \
    TEAMLENS_DATA_ROOT=/data \
    PYTHONPATH=/app \
    PYSPARK_PYTHON=/usr/local/bin/python3 \
    SPARK_WORKER_DIR=/tmp/spark-worker \
    PYTHONUNBUFFERED=1
RUN useradd --uid 50000 --gid 0 --home-dir /home/teamlens --create-home --shell /usr/sbin/nologin teamlens \
    && mkdir -p /opt/airflow/logs /opt/airflow/auth \
        /data/landing /data/staged /data/quarantine /data/metrics /data/reports/checkpoints \
        /data/warehouse /data/statements /data/run \
    && chown -R 50000:0 /opt/airflow /data \
    && chmod -R g+rwX /opt/airflow /data
USER 50000

"""Bringing the local stack up and down: install what is missing, start what is not
running, wait until each answers; stop what ``up`` started.

Used by ``f1-stack up|down``, by the demo (``stack.demo``), which needs the stack first, and
by the integration tests' session fixture.
"""

from __future__ import annotations

import time

from stack import paths, spark_jars
from stack.apicurio import Apicurio
from stack.influxdb import BUCKET, ORG, InfluxDB
from stack.kafka import Kafka
from stack.service import Service


def services() -> list[Service]:
    """Every process of the stack, in start order (stopped in reverse)."""
    return [Kafka(), Apicurio(), InfluxDB()]


def up() -> int:
    started_at = time.monotonic()
    all_services = services()
    install_missing(all_services)
    if spark_jars.wanted() and not spark_jars.installed():
        print("installing the Spark Kafka and Avro connector jars (first run only)")
        spark_jars.install()
    fresh = start_and_wait(all_services)
    print(f"stack is up {started_summary(all_services, fresh, started_at)}")
    _print_endpoints()
    return 0


def install_missing(wanted: list[Service]) -> None:
    """Install each service that is not in the cache yet, saying so."""
    for service in wanted:
        if not service.installed():
            # Installs fill the shared cache and log to logs/ of the state folder, for any stack.
            print(f"installing {service.name} (first run only; log in {paths.logs_dir()})")
            t0 = time.monotonic()
            service.install()
            print(f"  {service.name} installed in {time.monotonic() - t0:.0f} s")


def start_and_wait(wanted: list[Service]) -> list[Service]:
    """Start each service that is not running, then wait for every one to answer and run its
    after-start set-up; the services started now."""
    # Start everything first, then wait: the JVMs warm up side by side (and a cluster's
    # nodes answer only once a quorum of them runs).
    fresh = [s for s in wanted if s.running() is None]
    for service in fresh:
        service.start()
    for service in wanted:
        service.wait_healthy()
        service.after_start()
    return fresh


def started_summary(wanted: list[Service], fresh: list[Service], started_at: float) -> str:
    """``(N started, M already running) in T s``, for the line ``up`` ends with."""
    took = time.monotonic() - started_at
    return f"({len(fresh)} started, {len(wanted) - len(fresh)} already running) in {took:.1f} s"


def _print_endpoints() -> None:
    kafka, registry, influx = services()
    assert isinstance(influx, InfluxDB)
    print(f"  kafka            {kafka.endpoint()}")
    print(f"  schema registry  {registry.endpoint()}")
    print(f"  influxdb         {influx.endpoint()}  (org {ORG}, bucket {BUCKET})")
    if spark_jars.wanted():
        print(f"  spark jars       {spark_jars.jars_dir()}")
    print(f"  logs             {paths.logs_dir()}")
    print("# for services and clients in this shell:")
    print(f"export F1_KAFKA_BOOTSTRAP={kafka.endpoint()}")
    print(f"export F1_SCHEMA_REGISTRY_URL={registry.endpoint()}")
    print(f"export F1_INFLUX_URL={influx.endpoint()}")
    print(f"export F1_INFLUX_TOKEN_FILE={paths.influx_token_file()}")
    # Scoped tokens: the sink needs only the write one, the pit wall and history the read one.
    print(f"export F1_INFLUX_WRITE_TOKEN_FILE={influx.scoped_token_file('write')}")
    print(f"export F1_INFLUX_READ_TOKEN_FILE={influx.scoped_token_file('read')}")
    print(f"export F1_INFLUX_ORG={ORG}")
    print(f"export F1_INFLUX_BUCKET={BUCKET}")


def down() -> int:
    return stop_services(services())


def stop_services(started: list[Service]) -> int:
    """Stop ``started`` in reverse start order, one line each; 0."""
    for service in reversed(started):
        record = service.stop()
        if record is None:
            print(f"{service.name:16} not running")
        else:
            print(f"{service.name:16} stopped (pid {record.pid})")
    return 0

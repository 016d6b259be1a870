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
    for service in all_services:
        if not service.installed():
            print(f"installing {service.name} (first run only; log in {paths.logs_dir()})")
            t0 = time.monotonic()
            service.install()
            print(f"  {service.name} installed in {time.monotonic() - t0:.0f} s")
    if spark_jars.wanted() and not spark_jars.installed():
        print("installing the Spark Kafka and Avro connector jars (first run only)")
        spark_jars.install()
    # Start everything first, then wait: the JVMs warm up side by side.
    fresh = [s for s in all_services if s.running() is None]
    for service in fresh:
        service.start()
    for service in all_services:
        service.wait_healthy()
        service.after_start()
    took = time.monotonic() - started_at
    print(
        f"stack is up ({len(fresh)} started, {len(all_services) - len(fresh)} already running) "
        f"in {took:.1f} s"
    )
    _print_endpoints()
    return 0


def _print_endpoints() -> None:
    kafka, registry, influx = services()
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
    print(f"export F1_INFLUX_ORG={ORG}")
    print(f"export F1_INFLUX_BUCKET={BUCKET}")


def down() -> int:
    for service in reversed(services()):
        record = service.stop()
        if record is None:
            print(f"{service.name:16} not running")
        else:
            print(f"{service.name:16} stopped (pid {record.pid})")
    return 0

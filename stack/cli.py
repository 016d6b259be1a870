"""``f1-stack``: run the platform's infrastructure as local processes, without Docker.

f1-stack up       install what is missing, start what is not running, wait until
                  every service answers, print the endpoints (idempotent)
f1-stack down     stop the processes that f1-stack started (by pid file)
f1-stack status   each service with its pid, port, health and memory
f1-stack logs     the last lines of a service's log (or follow it with -f)

``--brokers 3`` makes up, down, status and topics act on the three-node cluster
(``stack.cluster``) instead of the single-node stack, which stays the default; ``--secure``
makes them act on the secured stack (``stack.secure``: TLS, a login per service, ACLs).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from runtime.command import StopSignal, add_verbose_flag, run_main
from runtime.endpoints import Endpoints
from runtime.errors import ConfigError
from runtime.pacing import Rate
from runtime.settings import flag_type, integer
from stack import cluster, lifecycle, procs, secure, secure_demo, spark_jars
from stack import demo as demo_module
from stack.dashboard_serve import DashboardLogin
from stack.service import Service
from stack.topics import broker_count, ensure_topics, platform_topics, replication_for

log = logging.getLogger(__name__)


def status(brokers: int = 1, secured: bool = False) -> int:
    """Print one line per service; exit 0 only when every service is running and healthy."""
    if brokers != 1:
        return 0 if _service_lines(cluster.services()) else 1
    if secured:
        return 0 if _service_lines(secure.services()) else 1
    all_ok = _service_lines(lifecycle.services())
    where: Path | str
    if spark_jars.wanted():
        jars = "ready" if spark_jars.installed() else "not installed"
        where = spark_jars.jars_dir()
    else:
        jars, where = "-", "pyspark not installed (the analytics extra)"
    print(f"{'spark-jars':16} {'-':>7} {'-':>5}  {jars:9} {'-':>8}  {where}")
    # A cluster left running is worth seeing; it does not change the single stack's result.
    if any(s.running() is not None for s in cluster.services()):
        print(f"\nthe {cluster.NODES}-node cluster (f1-stack status --brokers {cluster.NODES}):")
        _service_lines(cluster.services())
    if any(s.running() is not None for s in secure.services()):
        print("\nthe secured stack (f1-stack status --secure):")
        _service_lines(secure.services())
    return 0 if all_ok else 1


def _service_lines(services: list[Service]) -> bool:
    """A header and one line per service; True when every one is running and healthy."""
    all_ok = True
    print(f"{'service':16} {'pid':>7} {'port':>5}  {'health':9} {'rss':>8}  endpoint")
    for service in services:
        record = service.running()
        health = "stopped"
        if record is not None:
            health = "healthy" if service.healthy() else "unhealthy"
        rss = procs.rss_mib(record.pid) if record else None
        pid = str(record.pid) if record else "-"
        mem = f"{rss:.0f} MiB" if rss is not None else "-"
        print(
            f"{service.name:16} {pid:>7} {service.port:>5}  {health:9} {mem:>8}  "
            f"{service.describe()}"
        )
        all_ok = all_ok and health == "healthy"
    return all_ok


def topics(brokers: int = 1, secured: bool = False) -> int:
    specs = platform_topics()
    bootstrap = cluster.bootstrap() if brokers != 1 else Endpoints.from_env().kafka_bootstrap
    login = None
    if secured:
        bootstrap, login = secure.bootstrap(), secure.topics_client_config()
    created = ensure_topics(bootstrap, specs, security=login)
    for spec in specs:
        state = "created" if spec.name in created else "exists"
        print(f"{spec.name:24} {spec.partitions:>2} partition(s)  {state}")
    replication = replication_for(broker_count(bootstrap, security=login))
    print(
        f"new topics on {bootstrap}: {replication.factor} replica(s), "
        f"min.insync.replicas {replication.min_insync}"
    )
    return 0


def logs(name: str | None, lines: int, follow: bool, stop: StopSignal | None = None) -> int:
    known = {s.name: s for s in lifecycle.services()}
    others = [*cluster.services(), *secure.services()]
    known.update((s.name, s) for s in others if s.log_file.exists())
    if name is not None and name not in known:
        print(f"f1-stack: unknown service '{name}' (one of {', '.join(known)})", file=sys.stderr)
        return 2
    chosen = [known[name]] if name else list(known.values())
    for service in chosen:
        print(f"==> {service.log_file} <==")
        print(procs.tail(service.log_file, lines))
    if follow:
        if len(chosen) != 1:
            print("f1-stack: --follow needs one service name", file=sys.stderr)
            return 2
        return _follow(chosen[0].log_file, stop or StopSignal())
    return 0


def _follow(path: Path, stop: StopSignal) -> int:
    """Print what the log gains until Ctrl-C."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            while not stop.is_set():
                chunk = handle.read()
                if chunk:
                    sys.stdout.write(chunk.decode(errors="replace"))
                    sys.stdout.flush()
                else:
                    stop.wait(0.3)
        return 0
    except OSError as exc:
        print(f"f1-stack: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 1


def _simulator_rate(text: str) -> str:
    Rate.parse(text)  # ConfigError naming what f1-simulate takes
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="f1-stack",
        description="Run Kafka (KRaft), a Schema Registry (Apicurio, Confluent API) and "
        "InfluxDB 2.7 as local processes on 127.0.0.1, and fetch the Spark connectors.",
        epilog="Environment: F1_CACHE_DIR (downloads and builds, default ~/.cache/f1-telemetry), "
        "F1_STATE_DIR (data, logs, pids, default .state/ in the repo), F1_INFLUXD (use this "
        "influxd 2.x instead of building one), F1_REGISTRY_JAVA_HOME (a JDK 21+ for the "
        "registry), F1_KAFKA_JAVA_HOME (a JDK 17+ for Kafka).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    acting = {
        "up": "install, start and wait for every service (idempotent)",
        "down": "stop the processes f1-stack started",
        "status": "show each service's pid, port, health and memory",
        "topics": "create the platform's topics (idempotent)",
    }
    for name, what in acting.items():
        command = commands.add_parser(name, help=what)
        command.add_argument(
            "--brokers",
            default="1",
            metavar="N",
            help=f"1: the single-node stack (default); {cluster.NODES}: the {cluster.NODES}-node "
            f"cluster (Kafka on 19092-19094, Spark standalone on 17077; state in "
            f"$F1_STATE_DIR/cluster), beside the single-node stack",
        )
        command.add_argument(
            "--secure",
            action="store_true",
            help="the secured stack: Kafka SASL_SSL on 29092, the registry over TLS with "
            "basic auth on 28081, InfluxDB with scoped tokens on 28086, a user per service "
            "(state in $F1_STATE_DIR/secure), beside the default stack",
        )
    demo_parser = commands.add_parser(
        "demo",
        help="the stack, schemas and topics, then every service until Ctrl-C",
        description="The stack, schemas and topics, then every service until Ctrl-C. The pit "
        "wall listens on 127.0.0.1; with F1_DASHBOARD_BASIC_AUTH_FILE (a JSON file "
        '{"user": "password"}) its page, /health and /timing need a login, whose cookie '
        "F1_DASHBOARD_COOKIE_SECRET (or _FILE) signs (default: a secret made for the run).",
    )
    # Checked here as f1-simulate checks them, so a demo never starts the stack for flags its
    # simulator would refuse.
    demo_parser.add_argument(
        "--cars", type=flag_type(integer(1, 20)), default=20, help="cars on track (20)"
    )
    demo_parser.add_argument(
        "--rate",
        type=flag_type(_simulator_rate),
        default="realtime",
        help="simulator rate (realtime)",
    )
    demo_parser.add_argument(
        "--laps",
        type=flag_type(integer(1)),
        default=None,
        help="the race distance in laps (practice: laps per car), then the simulator stops "
        "and the rest keeps running (default: a Grand Prix; practice, until Ctrl-C)",
    )
    demo_parser.add_argument(
        "--session",
        choices=("race", "practice"),
        default="race",
        help="the simulator's session (race)",
    )
    demo_parser.add_argument(
        "--dashboard-port",
        type=flag_type(integer(1, 65_535)),
        default=demo_module.DASHBOARD_PORT,
        help="(5006)",
    )
    demo_parser.add_argument(
        "--secure",
        action="store_true",
        help="on the secured stack (f1-stack up --secure), each service logged in as its own "
        "user; the schemas and topics made by its admin",
    )
    logs_parser = commands.add_parser("logs", help="show a service's log")
    logs_parser.add_argument(
        "service",
        nargs="?",
        help="kafka, schema-registry or influxdb; of a cluster kafka-1..3, spark-master or "
        "spark-worker; of the secured stack secure-kafka, secure-registry, registry-proxy or "
        "secure-influxdb",
    )
    logs_parser.add_argument(
        "-n", "--lines", type=flag_type(integer(0)), default=40, help="lines to show (40)"
    )
    logs_parser.add_argument("-f", "--follow", action="store_true", help="keep printing")
    add_verbose_flag(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Warnings only: what f1-stack prints is its result; -v shows the services' progress.
    return run_main("f1-stack", build_parser(), _dispatch, argv, quiet=True, settings=_checked)


def _checked(args: argparse.Namespace) -> argparse.Namespace:
    """Flags argparse cannot check in one line (``--brokers``, and ``--secure`` with it), and
    the demo's pit wall login, before a stack is started for a demo that cannot run."""
    if hasattr(args, "brokers"):
        args.brokers = cluster.parse_brokers(args.brokers)
        if args.secure and args.brokers != 1:
            raise ConfigError(
                f"--secure is a single-node stack of its own; it does not go with "
                f"--brokers {args.brokers}"
            )
    if args.command == "demo":
        args.dashboard_login = DashboardLogin.from_env()
    return args


def _dispatch(args: argparse.Namespace, stop: StopSignal) -> int:
    if args.command in ("up", "down"):
        chosen = secure if args.secure else cluster if args.brokers != 1 else lifecycle
        return chosen.up() if args.command == "up" else chosen.down()
    if args.command == "status":
        return status(args.brokers, args.secure)
    if args.command == "topics":
        return topics(args.brokers, args.secure)
    if args.command == "demo":
        options = demo_module.Options(
            cars=args.cars,
            rate=args.rate,
            laps=args.laps,
            session=args.session,
            dashboard_port=args.dashboard_port,
            dashboard_login=args.dashboard_login,
        )
        if args.secure:
            return secure_demo.run(options, stop)
        return demo_module.run(options, stop)
    return logs(args.service, args.lines, args.follow, stop)


if __name__ == "__main__":
    sys.exit(main())

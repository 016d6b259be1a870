"""A Schema Registry with the Confluent REST API: Apicurio Registry 3.x from Maven Central.

Schemas are kept in an H2 file database in the state folder, so the ids written into
Kafka records stay resolvable across restarts of the stack. ``WRITE_DELAY=0`` makes
H2 write each commit at once: without it a kill -9 can lose a just-registered schema
and the registry would hand its id out again for a different schema.
"""

from __future__ import annotations

import json
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from stack import paths, tools
from stack.errors import StackError
from stack.service import Launch, Service

VERSION = "3.3.3"
PORT = 8081
MANAGEMENT_PORT = 9001
CCOMPAT_PATH = "/apis/ccompat/v7"
# Evolution rule for every subject that has none of its own (see schemas/README.md).
DEFAULT_COMPATIBILITY = "FULL_TRANSITIVE"
ARTIFACT = f"io.apicurio:apicurio-registry-app:{VERSION}:tar.gz:all"


class Apicurio(Service):
    name = "schema-registry"
    port = PORT
    management_port = MANAGEMENT_PORT
    start_timeout_s = 120.0

    @property
    def app_dir(self) -> Path:
        return paths.cache_dir() / "apicurio" / f"registry-{VERSION}"

    def installed(self) -> bool:
        return (self.app_dir / "quarkus-run.jar").exists()

    def install(self) -> None:
        repo = paths.cache_dir() / "m2"
        tools.maven(
            None,
            [f"{tools.DEPENDENCY_PLUGIN}:get", f"-Dartifact={ARTIFACT}", "-Dtransitive=false"],
            repo=repo,
            log_file=paths.logs_dir() / "install-schema-registry.log",
            what=f"downloading Apicurio Registry ({ARTIFACT}) from Maven Central",
        )
        archive = (
            repo
            / "io"
            / "apicurio"
            / "apicurio-registry-app"
            / VERSION
            / f"apicurio-registry-app-{VERSION}-all.tar.gz"
        )
        partial = self.app_dir.with_suffix(".partial")
        partial.mkdir(parents=True, exist_ok=True)
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(partial, filter="data")
        except (OSError, tarfile.TarError) as exc:
            raise StackError(f"unpacking {archive} failed: {exc}") from exc
        partial.rename(self.app_dir)

    def launch(self) -> Launch:
        # 3.2 and later are built for Java 21.
        java = tools.find_java(21, "F1_REGISTRY_JAVA_HOME")
        state = self.data_dir
        (state / "h2").mkdir(parents=True, exist_ok=True)
        (state / "tmp").mkdir(parents=True, exist_ok=True)
        props = {
            "java.io.tmpdir": state / "tmp",
            "quarkus.http.host": "127.0.0.1",
            "quarkus.http.port": self.port,
            "quarkus.management.host": "127.0.0.1",
            "quarkus.management.port": self.management_port,
            "apicurio.storage.kind": "sql",
            "apicurio.storage.sql.kind": "h2",
            "apicurio.datasource.url": f"jdbc:h2:file:{state / 'h2' / 'registry'};WRITE_DELAY=0",
            "apicurio.datasource.username": "sa",
            "apicurio.datasource.password": "sa",
            # The default pool (20 to 100 connections) is sized for a server, not a laptop.
            "apicurio.datasource.jdbc.initial-size": 2,
            "apicurio.datasource.jdbc.min-size": 2,
            "apicurio.datasource.jdbc.max-size": 10,
            "apicurio.storage.snapshot.location": state / "tmp",
            "apicurio.import.work-dir": state / "tmp",
            # Tests clean up their own subjects.
            "apicurio.rest.deletion.artifact.enabled": "true",
            "apicurio.rest.deletion.artifact-version.enabled": "true",
            "apicurio.rest.deletion.group.enabled": "true",
        }
        argv = [java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:-UsePerfData"]
        argv += [f"-D{key}={value}" for key, value in props.items()]
        argv += ["-jar", str(self.app_dir / "quarkus-run.jar")]
        return Launch(argv, cwd=state)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint()}/subjects", timeout=2) as resp:
                return resp.status == 200
        except (OSError, ValueError):
            return False

    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}{CCOMPAT_PATH}"

    def ports(self) -> list[int]:
        return [self.port, self.management_port]

    def after_start(self) -> None:
        """Set the registry-wide compatibility level explicitly: Apicurio has none by default."""
        request = urllib.request.Request(
            f"{self.endpoint()}/config",
            data=json.dumps({"compatibility": DEFAULT_COMPATIBILITY}).encode(),
            headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
            method="PUT",
        )
        try:
            with urllib.request.urlopen(request, timeout=10):
                pass
        except (urllib.error.URLError, OSError) as exc:
            raise StackError(f"setting the registry's compatibility level failed: {exc}") from exc

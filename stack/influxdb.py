"""InfluxDB 2.7 (``influxd``) on loopback: the user's own binary, or one built once from source.

Order of preference: ``$F1_INFLUXD`` (a path to an influxd 2.x), an ``influxd`` 2.x on
PATH, the binary already built into the cache, and only then a build from the Go
module (about 20 to 30 minutes cold on 2 cores; Flux's Rust library is compiled by
cargo from the crate registry). The first start runs the setup API once and keeps
the generated operator token in the state folder, never in the repo, and makes two scoped
tokens beside it (``stack.influx_tokens``): ``write-token`` for the sink, ``read-token`` for
the pit wall and stored history.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from runtime.paths import LOCAL_INFLUX_PORT
from stack import paths, procs, tools
from stack.errors import StackError
from stack.influx_tokens import ensure_scoped_tokens, token_file_name
from stack.secret_files import write_secret
from stack.service import Launch, Service

VERSION = "v2.7.12"
MODULE = "github.com/influxdata/influxdb/v2"
PORT = LOCAL_INFLUX_PORT  # the services send the local token only there
ORG = "f1"
BUCKET = "telemetry"
USERNAME = "f1admin"

# flux-core is built with #![deny(warnings)]; compilers newer than the one it pins add
# lints that turn into errors. --cap-lints makes them warnings again. A RUSTC_WRAPPER is
# needed (not RUSTFLAGS) because cargo does not pass RUSTFLAGS to build-script
# dependencies when --target is given, and flux's build script compiles flux-core.
RUSTC_WRAPPER = """#!/bin/sh
case " $* " in *" --cap-lints "*) exec "$@";; esac
exec "$@" --cap-lints warn
"""


def _is_v2(binary: str) -> bool:
    try:
        out = subprocess.run(
            [binary, "version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except OSError:
        return False
    return re.search(r"InfluxDB v?2\.", out) is not None


class InfluxDB(Service):
    name = "influxdb"
    port = PORT
    start_timeout_s = 60.0

    @property
    def built_binary(self) -> Path:
        return paths.cache_dir() / "influxdb" / VERSION / "influxd"

    def binary(self) -> str | None:
        """The influxd to run, or None when it has to be built."""
        user = os.environ.get("F1_INFLUXD")
        if user:
            if not _is_v2(user):
                raise StackError(f"F1_INFLUXD={user} is not an InfluxDB 2.x influxd")
            return user
        on_path = shutil.which("influxd")
        if on_path and _is_v2(on_path):
            return on_path
        if self.built_binary.exists():
            return str(self.built_binary)
        return None

    def installed(self) -> bool:
        return self.binary() is not None

    def install(self) -> None:
        go = tools.require("go", "install Go 1.21+ to build influxd, or set F1_INFLUXD")
        tools.require("cargo", "install Rust (cargo) to build Flux for influxd, or set F1_INFLUXD")
        root = paths.cache_dir() / "influxdb"
        build_log = paths.logs_dir() / "install-influxdb.log"
        env = {
            **os.environ,
            "GOMODCACHE": str(root / "gomod"),
            "GOCACHE": str(root / "gocache"),
            "CARGO_HOME": str(root / "cargo"),
            "GOTOOLCHAIN": "local",
            "GOFLAGS": "-modcacherw",
        }
        download = subprocess.run(
            [go, "mod", "download", "-json", f"{MODULE}@{VERSION}"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if download.returncode != 0:
            build_log.parent.mkdir(parents=True, exist_ok=True)
            build_log.write_text(download.stdout + download.stderr)
            raise StackError(
                f"downloading the Go module {MODULE}@{VERSION} failed; "
                f"last lines of {build_log}:\n{procs.tail(build_log)}"
            )
        module_dir = Path(json.loads(download.stdout)["Dir"])
        # The module cache is read-only and the build writes next to the sources.
        src = root / "src" / VERSION
        if not (src / "go.mod").exists():
            shutil.rmtree(src, ignore_errors=True)
            shutil.copytree(module_dir, src)
        bin_dir = root / "bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        wrapper = bin_dir / "rustc-cap-lints"
        wrapper.write_text(RUSTC_WRAPPER)
        wrapper.chmod(0o755)
        procs.run_logged(
            [go, "build", "-o", str(bin_dir / "pkg-config"), "github.com/influxdata/pkg-config"],
            log_file=build_log,
            what="building influxdata/pkg-config (needed to build Flux)",
            cwd=src,
            env=env,
        )
        target = self.built_binary
        target.parent.mkdir(parents=True, exist_ok=True)
        procs.run_logged(
            [
                go,
                "build",
                "-tags",
                "sqlite_foreign_keys,sqlite_json",
                "-ldflags",
                f"-X main.version={VERSION} -X main.commit=gomod",
                "-o",
                str(target),
                "./cmd/influxd",
            ],
            log_file=build_log,
            what=f"building influxd {VERSION} from its Go module",
            cwd=src,
            env={
                **env,
                "PKG_CONFIG": str(bin_dir / "pkg-config"),
                # libflux pins an old toolchain it cannot download here; use the installed one.
                "RUSTUP_TOOLCHAIN": "stable",
                "RUSTC_WRAPPER": str(wrapper),
            },
        )
        # Only the binary is needed from now on; the module and build caches are ~3 GB.
        for scratch in ("gomod", "gocache", "cargo", "src"):
            shutil.rmtree(root / scratch, ignore_errors=True)

    def launch(self) -> Launch:
        binary = self.binary()
        if binary is None:
            raise StackError("influxd is not installed; run f1-stack up")
        data = self.data_dir
        data.mkdir(parents=True, exist_ok=True)
        return Launch(
            [
                binary,
                "run",
                f"--bolt-path={data / 'influxd.bolt'}",
                f"--engine-path={data / 'engine'}",
                f"--sqlite-path={data / 'influxd.sqlite'}",
                f"--http-bind-address=127.0.0.1:{self.port}",
                "--reporting-disabled",
                "--ui-disabled",
                "--log-level=warn",
            ],
            cwd=data,
        )

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint()}/health", timeout=2) as resp:
                return json.load(resp).get("status") == "pass"
        except (OSError, ValueError):
            return False

    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_file(self) -> Path:
        """The operator token (every right; the stack's own set-up)."""
        return paths.influx_token_file()

    def scoped_token_file(self, action: str) -> Path:
        """The file of the scoped token for ``action`` ("write" or "read")."""
        return self.token_file.with_name(token_file_name(action))

    def after_start(self) -> None:
        """Run the one-off setup (org, bucket, operator token) when the database is new, then
        make the scoped tokens that are missing (all of them for a new database)."""
        with urllib.request.urlopen(f"{self.endpoint()}/api/v2/setup", timeout=5) as resp:
            allowed = json.load(resp).get("allowed", False)
        token_file = self.token_file
        if allowed:
            self._setup(token_file)
        elif not token_file.exists():
            raise StackError(
                f"InfluxDB in {self.data_dir} is set up but its token file {token_file} is "
                f"missing; remove {self.data_dir} to start over"
            )
        ensure_scoped_tokens(
            self.endpoint(),
            token_file.read_text().strip(),
            ORG,
            BUCKET,
            token_file.parent,
            renew=allowed,
        )

    def _setup(self, token_file: Path) -> None:
        token = secrets.token_urlsafe(32)
        body = {
            "username": USERNAME,
            "password": secrets.token_urlsafe(16),
            "org": ORG,
            "bucket": BUCKET,
            "token": token,
        }
        request = urllib.request.Request(
            f"{self.endpoint()}/api/v2/setup",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10):
                pass
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:200].decode(errors="replace")
            raise StackError(f"InfluxDB setup failed: HTTP {exc.code} {detail}") from exc
        write_secret(token_file, token)

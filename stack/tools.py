"""The build tools the stack needs on the machine: java, mvn, go, cargo."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from stack.errors import StackError
from stack.procs import run_logged

# A pinned dependency plugin: the default one of Maven 3.8 fails to resolve its own deps.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.11.0"


def require(tool: str, hint: str) -> str:
    """The path of ``tool`` on PATH, or a StackError saying how to get it."""
    path = shutil.which(tool)
    if path is None:
        raise StackError(f"'{tool}' is not installed or not on PATH: {hint}")
    return path


def java_major(java: str) -> int:
    """The major version of a ``java`` executable (17 for 17.0.15)."""
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except OSError:
        return 0
    match = re.search(r'version "(\d+)', out)
    return int(match.group(1)) if match else 0


def find_java(minimum: int, env_var: str) -> str:
    """A java of at least version ``minimum``: from $env_var, JAVA_HOME, PATH or /usr/lib/jvm."""
    candidates = []
    for home in (os.environ.get(env_var), os.environ.get("JAVA_HOME")):
        if home:
            candidates.append(str(Path(home) / "bin" / "java"))
    if shutil.which("java"):
        candidates.append(shutil.which("java") or "java")
    jvm = Path("/usr/lib/jvm")
    if jvm.is_dir():
        candidates += [str(p / "bin" / "java") for p in sorted(jvm.iterdir(), reverse=True)]
    for java in candidates:
        if Path(java).exists() and java_major(java) >= minimum:
            return java
    raise StackError(
        f"no Java {minimum}+ found (looked at ${env_var}, $JAVA_HOME, PATH and /usr/lib/jvm): "
        f"install a JDK {minimum} or newer, or set {env_var} to its home"
    )


def maven(pom: Path | None, goal_args: list[str], *, repo: Path, log_file: Path, what: str) -> None:
    """Run a pinned maven-dependency-plugin goal (on ``pom`` if given) with a repo in the cache."""
    mvn = require("mvn", "install Maven 3.8+ (Debian package 'maven')")
    run_logged(
        [
            mvn,
            "-B",
            "-q",
            f"-Dmaven.repo.local={repo}",
            *(["-f", str(pom)] if pom else []),
            *goal_args,
        ],
        log_file=log_file,
        what=what,
    )

"""The secured stack's schema registry: Apicurio on loopback only, behind nginx, which
answers over TLS (the stack's CA-signed certificate) and asks for basic auth.

Every service has a registry user of its own (the same names as its Kafka user, each with
a password file of its own). Only ``admin`` may change the registry: register schemas, set
compatibility, delete. The others may read, look a schema up (``POST /subjects/<s>``) and
test compatibility, which is all the services do.

nginx runs as a process of the stack: in the foreground (``daemon off``), with its config,
pid file, temporary files and logs in the secured stack's folder, on an unprivileged port.
"""

from __future__ import annotations

import base64
import os
import pwd
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from stack.apicurio import CCOMPAT_PATH, Apicurio
from stack.certificates import Certificates
from stack.errors import StackError
from stack.secret_files import password_file, write_secret
from stack.secure_paths import SecuredStackFiles, registry_password_file, secrets_dir, tls_dir
from stack.service import Launch, Service
from stack.service_users import ServiceUser, service_users

PROXY_PORT = 28081
REGISTRY_PORT = 28080
REGISTRY_MANAGEMENT_PORT = 28082
# Debian's nginx (nginx-light is a name for it in Debian 12) has every module used here.
NGINX_PACKAGE = "nginx"
# Where Debian puts nginx: not on the PATH of a user without sbin in it.
NGINX_FALLBACK = Path("/usr/sbin/nginx")

NGINX_CONFIG = """\
# Written by f1-stack at every start of the secured stack; edits are lost.
{user_line}worker_processes 1;
pid {run}/nginx.pid;
error_log {error_log} warn;

events {{
    worker_connections 256;
}}

http {{
    access_log {access_log};
    client_body_temp_path {run}/client-body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    server_tokens off;

    # What a user that is not the admin may do: read, look a schema up under a subject
    # (POST /subjects/<subject>) and test compatibility. Anything else changes the registry.
    map "$request_method $uri" $f1_read_only {{
        default 0;
        "~^(GET|HEAD) " 1;
        "~^POST {api}/subjects/[^/]+/?$" 1;
        "~^POST {api}/compatibility/" 1;
    }}
    # $remote_user is the name the client sent (checked by auth_basic after this): without
    # one, auth_basic answers 401; a change by anyone but {admin}, 403.
    map "$remote_user:$f1_read_only" $f1_refused {{
        default 1;
        "~^:" 0;
        "~^{admin}:" 0;
        "~:1$" 0;
    }}

    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;

        auth_basic "f1 schema registry";
        auth_basic_user_file {htpasswd};

        location / {{
            if ($f1_refused) {{
                return 403;
            }}
            proxy_pass http://127.0.0.1:{upstream};
            # The registry has no use for the credentials.
            proxy_set_header Authorization "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Proto https;
            client_max_body_size 8m;
        }}
    }}
}}
"""


def nginx_config(
    *,
    port: int,
    upstream: int,
    certificates: Certificates,
    htpasswd: Path,
    run: Path,
    error_log: Path,
    admin: str,
    worker_user: str | None,
) -> str:
    """The proxy's nginx.conf. ``worker_user``: set when nginx starts as root, which would
    otherwise run its workers as ``nobody``, who cannot read the 0600 htpasswd file; the
    workers then run as the user who runs f1-stack, as every other process of the stack."""
    return NGINX_CONFIG.format(
        user_line=f"user {worker_user};\n" if worker_user else "",
        run=run,
        error_log=error_log,
        access_log=error_log.with_name(f"{error_log.stem}.access.log"),
        api=CCOMPAT_PATH,
        admin=admin,
        port=port,
        cert=certificates.server_cert,
        key=certificates.server_key,
        htpasswd=htpasswd,
        upstream=upstream,
    )


def htpasswd_line(user: str, password: str, openssl: str = "openssl") -> str:
    """``user:hash`` with a salted SHA-512 crypt hash (``openssl passwd -6``), which nginx
    checks with the system's crypt(); the password goes through stdin, never argv."""
    try:
        hashed = subprocess.run(
            [openssl, "passwd", "-6", "-stdin"],
            input=password,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise StackError(
            f"hashing the registry password of {user} with openssl failed: {exc}"
        ) from None
    return f"{user}:{hashed}"


def nginx_binary() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    return str(NGINX_FALLBACK) if NGINX_FALLBACK.exists() else None


def ssl_context(ca: Path) -> ssl.SSLContext:
    """A client context that trusts the stack's CA only."""
    return ssl.create_default_context(cafile=str(ca))


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class SecureApicurio(SecuredStackFiles, Apicurio):
    """The registry itself: on loopback ports of its own, reached through the proxy."""

    name = "secure-registry"
    folder = "schema-registry"
    port = REGISTRY_PORT
    management_port = REGISTRY_MANAGEMENT_PORT

    def describe(self) -> str:
        return f"{self.endpoint()} (loopback only: clients use registry-proxy)"


class RegistryProxy(SecuredStackFiles, Service):
    name = "registry-proxy"
    folder = "registry-proxy"
    port = PROXY_PORT
    start_timeout_s = 30.0

    def __init__(self, users: list[ServiceUser] | None = None) -> None:
        self.users = users or service_users()

    @property
    def certificates(self) -> Certificates:
        return Certificates(tls_dir())

    @property
    def htpasswd(self) -> Path:
        return secrets_dir() / "registry.htpasswd"

    @property
    def admin(self) -> str:
        return next(u.name for u in self.users if u.registry_writer)

    def installed(self) -> bool:
        return nginx_binary() is not None

    def install(self) -> None:
        raise StackError(
            f"nginx is not installed: the secured stack's registry proxy needs it "
            f"(Debian package {NGINX_PACKAGE} or nginx-light: apt-get install {NGINX_PACKAGE})"
        )

    def launch(self) -> Launch:
        binary = nginx_binary()
        if binary is None:
            self.install()
        run = self.data_dir
        run.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        # Made again at every start from the password files, so it always matches them.
        lines = [
            htpasswd_line(u.name, password_file(registry_password_file(u.name))) for u in self.users
        ]
        write_secret(self.htpasswd, "\n".join(lines))
        config = run / "nginx.conf"
        config.write_text(
            nginx_config(
                port=self.port,
                upstream=REGISTRY_PORT,
                certificates=self.certificates,
                htpasswd=self.htpasswd,
                run=run,
                error_log=self.log_file,
                admin=self.admin,
                worker_user=pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else None,
            )
        )
        return Launch(
            [
                str(binary),
                "-p",
                str(run),
                "-c",
                str(config),
                # Before the config is read nginx logs to its compiled-in path; not there.
                "-e",
                str(self.log_file),
                "-g",
                "daemon off;",
            ],
            cwd=run,
        )

    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}{CCOMPAT_PATH}"

    def healthy(self) -> bool:
        """The proxy answers over TLS and the registry behind it answers the admin."""
        request = urllib.request.Request(f"{self.endpoint()}/subjects")
        password = password_file(registry_password_file(self.admin))
        request.add_header("Authorization", basic_auth(self.admin, password))
        try:
            context = ssl_context(self.certificates.ca)
            with urllib.request.urlopen(request, timeout=2, context=context) as resp:
                return resp.status == 200
        except (OSError, ValueError, urllib.error.URLError):
            return False

    def describe(self) -> str:
        return f"{self.endpoint()} (TLS, basic auth; registry on 127.0.0.1:{REGISTRY_PORT})"

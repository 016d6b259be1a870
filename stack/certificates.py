"""A certificate authority and one server certificate signed by it, made with openssl the
first time the secured stack starts, for Kafka's listeners and the registry's TLS proxy.

Clients trust ``ca.pem`` alone. The server certificate names ``localhost`` and
``127.0.0.1`` (where the secured stack listens), so clients verify the host name as they
would against any real server. The keys never leave the folder, which only its owner may
enter (mode 0700); each key file is mode 0600.
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from stack.errors import StackError
from stack.procs import run_logged

CA_DAYS = 3650
SERVER_DAYS = 825  # the longest validity clients such as browsers accept for a server cert
SERVER_NAMES = ("DNS:localhost", "IP:127.0.0.1")

SERVER_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = {names}
"""


@dataclass(frozen=True)
class Certificates:
    """The files of one CA and its server certificate."""

    folder: Path

    @property
    def ca(self) -> Path:
        """What clients trust."""
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.folder / "server.pem"

    @property
    def server_key(self) -> Path:
        """PKCS#8 and unencrypted: the form Kafka's PEM key store reads."""
        return self.folder / "server.key"

    @property
    def keystore(self) -> Path:
        """Kafka's PEM key store: the key, then the certificate chain (server, CA)."""
        return self.folder / "server-keystore.pem"

    def complete(self) -> bool:
        return all(p.exists() for p in (self.ca, self.server_cert, self.server_key, self.keystore))


def ensure_certificates(folder: Path, log_file: Path) -> Certificates:
    """The CA and server certificate in ``folder``, made now if any file is missing."""
    made = Certificates(folder)
    if made.complete():
        return made
    openssl = require_openssl()
    # Made in a scratch folder and moved in whole, so a failure leaves no half a CA behind.
    scratch = folder.with_name(f"{folder.name}.partial")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True, mode=0o700)
    work = Certificates(scratch)

    def run(*args: str, what: str) -> None:
        run_logged([openssl, *args], log_file=log_file, what=what)

    run(*_new_key(work.ca_key), what="making the CA key")
    run(
        "req",
        "-x509",
        "-new",
        "-key",
        str(work.ca_key),
        "-sha256",
        "-days",
        str(CA_DAYS),
        "-subj",
        "/CN=f1-telemetry local stack CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-out",
        str(work.ca),
        what="making the CA certificate",
    )
    run(*_new_key(work.server_key), what="making the server key")
    request = scratch / "server.csr"
    run(
        "req",
        "-new",
        "-key",
        str(work.server_key),
        "-subj",
        "/CN=localhost",
        "-out",
        str(request),
        what="making the server certificate request",
    )
    extensions = scratch / "server.ext"
    extensions.write_text(SERVER_EXTENSIONS.format(names=",".join(SERVER_NAMES)))
    run(
        "x509",
        "-req",
        "-in",
        str(request),
        "-CA",
        str(work.ca),
        "-CAkey",
        str(work.ca_key),
        "-set_serial",
        f"0x{secrets.token_hex(16)}",
        "-sha256",
        "-days",
        str(SERVER_DAYS),
        "-extfile",
        str(extensions),
        "-out",
        str(work.server_cert),
        what="signing the server certificate",
    )
    keystore = work.server_key.read_text() + work.server_cert.read_text() + work.ca.read_text()
    work.keystore.touch(mode=0o600)
    work.keystore.write_text(keystore)
    for key in (work.ca_key, work.server_key):
        key.chmod(0o600)
    request.unlink()
    extensions.unlink()
    shutil.rmtree(folder, ignore_errors=True)
    scratch.rename(folder)
    return made


def require_openssl() -> str:
    """The openssl executable, or a StackError naming its package."""
    found = shutil.which("openssl")
    if found is None:
        raise StackError("'openssl' is not installed: install the Debian package openssl")
    return found


def _new_key(path: Path) -> list[str]:
    """openssl arguments for a new RSA key at ``path`` (PKCS#8, as genpkey writes it)."""
    return ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(path)]

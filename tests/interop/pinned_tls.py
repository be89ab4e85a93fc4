"""Trusting a test server's self-signed certificate the way a client should: fetch it, check it
is the one whose SHA-256 fingerprint the server printed at start (the out-of-band pin), and
write it to a CA file the client then verifies the TLS connection (and host name) against.

Shared by the interop scripts in this directory; uses only the standard library.
"""

import hashlib
import ssl


def pinned_ca_file(host, fingerprint, path):
    """Writes the certificate `host` ("127.0.0.1:PORT") presents to `path` as PEM, after
    checking its fingerprint ("AA:BB:..") is `fingerprint`; raises ValueError otherwise."""
    name, port = host.rsplit(":", 1)
    pem = ssl.get_server_certificate((name, int(port)))
    der = ssl.PEM_cert_to_DER_cert(pem)
    got = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
    if got != fingerprint.upper():
        raise ValueError(f"{host} presents a certificate with fingerprint {got}, pinned {fingerprint}")
    with open(path, "w") as f:
        f.write(pem)
    return path

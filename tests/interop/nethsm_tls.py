#!/usr/bin/env python3
"""Drives a fresh Strongroom server's TLS configuration with the real NetHSM Python client
(`nethsm` on PyPI), signing its CSR with pyca/cryptography as an outside CA would.

Usage: nethsm_tls.py --host 127.0.0.1:PORT

The server must be freshly started and Unprovisioned. Provisions it; reads the certificate and
public key; makes a CSR with SANs and checks it; installs the certificate an outside CA signs
(with its intermediate); sets the cluster CA; generates a new EC P-384 key; and checks after
each change, on a new TLS connection of its own (Python's ssl), the certificate the server
presents. Exits 0 after printing "nethsm tls interop: all checks passed"; a failed check
exits 1 naming the step.
"""

import argparse
import datetime
import socket
import ssl
import sys
import traceback

import nethsm
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

UNLOCK = "interop unlock passphrase"
ADMIN = "interop admin passphrase"
TIME = datetime.datetime(2026, 11, 23, 12, 0, 0, tzinfo=datetime.timezone.utc)


class CheckFailed(Exception):
    pass


last_step = "start"


def step(message):
    global last_step
    last_step = message
    print(f"nethsm tls interop: {message}", flush=True)


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def presented(host):
    """The DER of the certificate a new TLS connection to host gets."""
    address, port = host.rsplit(":", 1)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((address, int(port)), timeout=30) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.getpeercert(binary_form=True)


def der(pem):
    return x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)


def spki(key):
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def ca_cert(cn, key, issuer, issuer_key, now):
    return (
        x509.CertificateBuilder().subject_name(name(cn)).issuer_name(issuer)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=30))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


def run(host):
    anon = nethsm.NetHSM(host, auth=None, verify_tls=False)
    anon.provision(UNLOCK, ADMIN, TIME)
    admin = nethsm.NetHSM(host, auth=nethsm.Authentication(username="admin", password=ADMIN), verify_tls=False)
    step(f"nethsm client {getattr(nethsm, '__version__', '?')}: provisioned {host}")

    cert = admin.get_certificate()
    check(der(cert) == presented(host), "get_certificate is not what a connection is served")
    public = admin.get_public_key()
    check(spki(serialization.load_pem_public_key(public.encode()))
          == spki(x509.load_pem_x509_certificate(cert.encode()).public_key()),
          "get_public_key is not the certificate's key")
    step("get_certificate and get_public_key agree with what is served")

    try:
        admin.get_cluster_ca_certificate()
        raise CheckFailed("get_cluster_ca_certificate succeeded before one was set")
    except nethsm.NetHSMError as e:
        check("404" in str(e), f"cluster CA before set: expected a 404, got {e!r}")
    step("get_cluster_ca_certificate: none set")

    csr_pem = admin.csr(common_name="interop.example", country="DE", organization="Interop",
                        subject_alt_names=["interop.example", "IP:192.0.2.10"])
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    check(csr.is_signature_valid, "the CSR's signature does not verify")
    check(spki(csr.public_key()) == spki(serialization.load_pem_public_key(public.encode())),
          "the CSR is not for the served key")
    san = csr.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    check(san.get_values_for_type(x509.DNSName) == ["interop.example"], f"CSR DNS names {san}")
    check([str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["192.0.2.10"], f"CSR IPs {san}")
    step("csr: signature, key and SANs check out")

    now = datetime.datetime.now(datetime.timezone.utc)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = ca_cert("Interop Root", root_key, name("Interop Root"), root_key, now)
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter = ca_cert("Interop Intermediate", inter_key, root.subject, root_key, now)
    leaf = (
        x509.CertificateBuilder().subject_name(csr.subject).issuer_name(inter.subject)
        .public_key(csr.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=30))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(san, critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(inter_key, hashes.SHA256())
    )
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)
    admin.set_certificate(pem(leaf) + pem(inter))
    check(presented(host) == leaf.public_bytes(serialization.Encoding.DER),
          "a new connection is not served the installed certificate")
    check(der(admin.get_certificate()) == leaf.public_bytes(serialization.Encoding.DER),
          "get_certificate is not the installed certificate")
    step("set_certificate: served to the next connection")

    admin.set_cluster_ca_certificate(pem(root))
    check(der(admin.get_cluster_ca_certificate()) == root.public_bytes(serialization.Encoding.DER),
          "get_cluster_ca_certificate is not the CA set")
    step("set_cluster_ca_certificate / get_cluster_ca_certificate")

    admin.generate_tls_key(nethsm.TlsKeyType.EC_P384)
    served = x509.load_der_x509_certificate(presented(host))
    check(isinstance(served.public_key(), ec.EllipticCurvePublicKey)
          and served.public_key().curve.name == "secp384r1", "the generated key is not P-384")
    check(spki(served.public_key())
          == spki(serialization.load_pem_public_key(admin.get_public_key().encode())),
          "get_public_key is not the generated key")
    step("generate_tls_key(EC_P384): served to the next connection")
    print("nethsm tls interop: all checks passed", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    args = parser.parse_args()
    try:
        run(args.host)
    except Exception as e:  # noqa: BLE001 - every failure is reported with the last step
        traceback.print_exc()
        print(f"nethsm tls interop: FAILED after step {last_step!r}: {e}", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()

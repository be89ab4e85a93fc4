#!/usr/bin/env python3
"""Drives a fresh Strongroom server with `nitropy nethsm` (PyPI `pynitrokey`, pinned in
tests/requirements.txt) and checks what it prints with pyca/cryptography.

Usage: nitropy_client.py --host 127.0.0.1:PORT --fingerprint AA:BB:.. --work-dir DIR PART

The server must be freshly started and Unprovisioned. nitropy verifies TLS against the
server's own certificate (`--ca-certs`), fetched and checked against the pinned fingerprint
(pinned_tls.py); the one run without it must be refused. Passphrases go through nitropy's
environment variables (NETHSM_USERNAME, NETHSM_PASSWORD), never its command line. nitropy's
own log file goes to DIR (TMPDIR).

PART is one of
  test     `nitropy nethsm test`: provisions, adds an Operator, generates --key-generations
           RSA-2048 keys (each with RSA_Decryption_RAW), lists them, draws random data as the
           Operator and factory-resets; timed step by step.
  keys     the key commands on what the server has: generate-key, add-key (pyca's keys),
           list-keys (details, filter, prefix, label), get-key (and --public-key), sign (every
           signature verified by pyca), add/delete-key-tag, set/delete-key-label,
           set/get/delete-certificate, move-key, delete-key, and their failures.
  import   import-key (PEM files by pyca) and import-pkcs12: multipart import.
  csr      csr --key-id: CSRs checked by pyca.
  crypt    encrypt and decrypt (AES-CBC with a Generic key; RSA PKCS1/OAEP).

Each command runs as `nitropy nethsm --host H --ca-certs CA ...`: as a real process (the
installed console script) where the part says so, else in this process through nitropy's
own click entry point with the same arguments (each process spends over a second of CPU
importing nitropy, which would dominate the run).

Exits 0 after printing "nitropy <PART>: all checks passed"; a failed check exits 1; what the
server does not have (the route unknown, or a key type, mechanism or media type refused as
such) exits 3 with "MISSING".
"""

import argparse
import base64
import os
import re
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

UNLOCK = "nitropy interop unlock passphrase"
ADMIN = "nitropy interop admin passphrase"
OP, OP_PASS = "op1", "nitropy interop operator one"
OP2, OP2_PASS = "op2", "nitropy interop operator two"

STARTED = time.monotonic()
part_name = "?"
last_step = "start"


class CheckFailed(Exception):
    pass


class NotThereYet(Exception):
    pass


def step(message):
    global last_step
    last_step = message
    print(f"nitropy {part_name}: [{time.monotonic() - STARTED:5.1f} s] {message}", flush=True)


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


class Nitropy:
    """Runs `nitropy nethsm --host H --ca-certs CA <args>` as some user."""

    def __init__(self, host, ca_file, work_dir):
        self.host = host
        self.ca_file = ca_file
        self.work_dir = work_dir
        self.exe = os.path.join(os.path.dirname(sys.executable), "nitropy")
        self.runner = None

    def base(self, verify=True):
        return ["nethsm", "--host", self.host] + (["--ca-certs", self.ca_file] if verify else [])

    def env(self, user):
        env = {"ALLOW_ROOT": "1", "TMPDIR": self.work_dir, "NETHSM_USERNAME": "", "NETHSM_PASSWORD": ""}
        if user:
            env["NETHSM_USERNAME"], env["NETHSM_PASSWORD"] = user
        return env

    def process(self, args, user=None, verify=True, timeout=600):
        """The installed console script as its own process: (exit code, stdout, stderr)."""
        env = dict(os.environ)
        env.update(self.env(user))
        if not user:
            del env["NETHSM_USERNAME"], env["NETHSM_PASSWORD"]
        p = subprocess.run([self.exe] + self.base(verify) + args, env=env, capture_output=True,
                           text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout, p.stderr

    def invoke(self, args, user=None):
        """nitropy's click entry point in this process: (exit code, stdout, stderr)."""
        if self.runner is None:
            from click.testing import CliRunner
            from pynitrokey.cli import nitropy
            self.runner, self.group = CliRunner(), nitropy
        env = self.env(user)
        if not user:
            env["NETHSM_USERNAME"] = env["NETHSM_PASSWORD"] = None  # unset
        r = self.runner.invoke(self.group, self.base() + args, env=env, catch_exceptions=True)
        if r.exception is not None and not isinstance(r.exception, SystemExit):
            raise CheckFailed(f"nitropy {' '.join(args)} raised {type(r.exception).__name__}: {r.exception}")
        return r.exit_code, r.stdout, r.stderr

    def ok(self, args, user=None, via_process=False):
        rc, out, err = self.process(args, user) if via_process else self.invoke(args, user)
        if rc != 0:
            missing(f"nitropy nethsm {args[0]}", out + err)
            raise CheckFailed(f"nitropy nethsm {' '.join(args)} exited {rc}:\n{out}\n{err}")
        return out

    def fails(self, args, needle, user=None):
        rc, out, err = self.invoke(args, user)
        check(rc != 0, f"nitropy nethsm {' '.join(args)} succeeded, expected a failure with {needle!r}:\n{out}")
        check(needle in out + err, f"nitropy nethsm {' '.join(args)}: expected {needle!r} in:\n{out}\n{err}")
        return out + err


def missing(what, text):
    """Raises NotThereYet when nitropy's error says the server lacks the route, key type,
    mechanism or request media type (another part of issue 13 adds it)."""
    if any(sign in text for sign in ("Resource not found", "Unexpected API error 405", "not supported yet",
                                     "Unexpected API error 501", "Content type not supported")):
        raise NotThereYet(f"{what}: {text.strip()}")


def provision_and_users(n):
    n.ok(["provision", "-u", UNLOCK, "-a", ADMIN], via_process=True)
    admin = ("admin", ADMIN)
    for user_id, passphrase, name in ((OP, OP_PASS, "Nitropy Operator One"), (OP2, OP2_PASS, "Nitropy Operator Two")):
        n.ok(["add-user", "-n", name, "-r", "Operator", "-p", passphrase, "-u", user_id], admin)
    step("provisioned with `nitropy nethsm provision` (a process, TLS verified), two Operators added")
    return admin, (OP, OP_PASS), (OP2, OP2_PASS)


def refused_without_ca(n):
    rc, out, err = n.process(["state"], verify=False)
    check(rc != 0 and "CERTIFICATE_VERIFY_FAILED" in out + err,
          f"nitropy without --ca-certs accepted the self-signed certificate (exit {rc}):\n{out}\n{err}")
    step("TLS: nitropy refuses the server without --ca-certs (every later command verifies it with them)")


def part_test(n, key_generations):
    """`nitropy nethsm test`, timed; its output parsed for each step it reports."""
    args = ["test", "--key-generations", str(key_generations),
            "-a", ADMIN, "-o", OP_PASS, "-u", UNLOCK]
    started = time.monotonic()
    exe = [n.exe] + n.base() + args
    env = dict(os.environ)
    env.update(n.env(None))
    del env["NETHSM_USERNAME"], env["NETHSM_PASSWORD"]
    proc = subprocess.Popen(exe, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    marks = []  # (seconds since start, line)
    for line in proc.stdout:
        marks.append((time.monotonic() - started, line.rstrip()))
        print(f"nitropy test: [{marks[-1][0]:6.1f} s] | {line.rstrip()}", flush=True)
    err = proc.stderr.read()
    rc = proc.wait()
    total = time.monotonic() - started
    out = "\n".join(line for _, line in marks)
    if rc != 0:
        missing("nitropy nethsm test", out + err)
        raise CheckFailed(f"nitropy nethsm test exited {rc} after {total:.1f} s:\n{out}\n{err}")
    for expected in ("Unprovisioned NetHSM found.", "Provisioned the NetHSM.", "Created operator user.",
                     f"Generated {key_generations} RSA2048 keys.", "Generated 1024 bytes of random data.",
                     "Perform factory reset."):
        check(expected in out, f"nitropy test did not print {expected!r}:\n{out}")
    at = {line: t for t, line in marks}
    provisioned = at["Provisioned the NetHSM."]
    operator = at["Created operator user."]
    generated = at[f"Generated {key_generations} RSA2048 keys."]
    step(f"nitropy nethsm test passed in {total:.1f} s: process start and provision {provisioned:.1f} s, "
         f"Operator {operator - provisioned:.1f} s, {key_generations} RSA-2048 keys and the list "
         f"{generated - operator:.1f} s ({(generated - operator) / key_generations:.2f} s a key), "
         f"random and factory reset {total - generated:.1f} s")
    rc, out, err = n.process(["state"])
    check(rc == 0 and "is Unprovisioned" in out, f"after nitropy test's factory reset the state is:\n{out}\n{err}")
    step("after its factory reset the server is Unprovisioned again")


def table_rows(out):
    """The rows of nitropy's list-keys table (after its header and rule): tab-separated cells,
    each padded to the column's width."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Key ID"))
    return [[cell.strip() for cell in line.split("\t")] for line in lines[start + 2:] if line.strip()]


def fields(out):
    """get-key's "Name:   value" lines as a dict."""
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in out.splitlines()[1:] if ":" in line)}


def b64field(value):
    """A get-key value: nitropy prints the SDK's Base64 object, "Base64(data='...')"."""
    found = re.fullmatch(r"Base64\(data='([^']*)'\)", value)
    return base64.b64decode(found.group(1) if found else value)


def part_keys(n):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from nethsm import KeyType, SignMode
    from nethsm_keys import big, make_cert, sign_input, spki, verify, CheckFailed as VerifyFailed

    refused_without_ca(n)
    admin, op, op2 = provision_and_users(n)

    # generate-key
    generated = {"np-rsa": ("RSA", ["RSA_Signature_PKCS1", "RSA_Signature_PSS_SHA256"], 2048),
                 "np-p256": ("EC_P256", ["ECDSA_Signature"], 256),
                 "np-ed": ("Curve25519", ["EdDSA_Signature"], 256)}
    for key_id, (t, mechanisms, length) in generated.items():
        args = ["generate-key", "-t", t, "-l", str(length), "-k", key_id, "-s", f"label {key_id}"]
        for m in mechanisms:
            args += ["-m", m]
        out = n.ok(args, admin, via_process=(t == "RSA"))
        check(f"Key {key_id} generated" in out, f"generate-key {key_id} printed:\n{out}")
    n.fails(["generate-key", "-t", "EC_P256", "-m", "ECDSA_Signature", "-l", "256", "-k", "np-p256"],
                  "already exists", admin)
    n.fails(["generate-key", "-t", "RSA", "-m", "RSA_Signature_PKCS1", "-l", "1000", "-k", "np-bad"],
            "Bad request", admin)
    n.fails(["generate-key", "-t", "EC_P256", "-m", "ECDSA_Signature", "-l", "256", "-k", "np-bad"],
            "requires the role Administrator", op)
    step("generate-key RSA-2048 (a process), EC P-256, Ed25519 with labels; existing id, bad length, Operator fail")

    # add-key with pyca's keys
    r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rn = r.private_numbers()
    p = ec.generate_private_key(ec.SECP256R1())
    e = ed25519.Ed25519PrivateKey.generate()
    seed = e.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    pem_of = lambda k: k.public_key().public_bytes(  # noqa: E731
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    n.ok(["add-key", "-t", "RSA", "-m", "RSA_Signature_PKCS1", "-m", "RSA_Signature_PSS_SHA512",
          "-p", b64(big(rn.p)), "-q", b64(big(rn.q)), "-e", b64(big(rn.public_numbers.e)), "-k", "np-imp-rsa"], admin)
    n.ok(["add-key", "-t", "EC_P256", "-m", "ECDSA_Signature", "-d", b64(big(p.private_numbers().private_value, 32)),
          "-k", "np-imp-p256", "--tags", "signers"], admin)
    out = n.ok(["add-key", "-t", "Curve25519", "-m", "EdDSA_Signature", "-d", b64(seed)], admin)
    found = re.search(r"Key (\S+) added", out)
    check(found is not None, f"add-key without -k printed:\n{out}")
    imp_ed = found.group(1)
    expected_pems = {"np-imp-rsa": pem_of(r), "np-imp-p256": pem_of(p), imp_ed: pem_of(e)}
    n.fails(["add-key", "-t", "EC_P256", "-m", "ECDSA_Signature", "-d", b64(b"\x01" * 33), "-k", "np-bad"],
            "Bad request", admin)
    n.fails(["add-key", "-t", "EC_P256", "-m", "ECDSA_Signature", "-d", b64(b"\x01" * 32), "-k", "np-imp-rsa"],
            "already exists", admin)
    step(f"add-key of pyca's RSA, EC P-256 (tagged) and Ed25519 (as {imp_ed}); bad scalar and existing id fail")

    # list-keys
    all_ids = set(generated) | set(expected_pems)
    rows = table_rows(n.ok(["list-keys"], admin))
    check({row[0] for row in rows} == all_ids, f"list-keys ids {[row[0] for row in rows]} != {sorted(all_ids)}")
    by_id = {row[0]: row for row in rows}
    check(by_id["np-rsa"][1] == "RSA" and "RSA_Signature_PSS_SHA256" in by_id["np-rsa"][2], f"row {by_id['np-rsa']}")
    check(by_id["np-imp-p256"][4] == "signers", f"row {by_id['np-imp-p256']}")
    check(by_id["np-ed"][-1] == "label np-ed", f"row {by_id['np-ed']}")
    rows = table_rows(n.ok(["list-keys", "--no-details", "-p", "np-imp"], op))
    check({row[0] for row in rows} == {"np-imp-rsa", "np-imp-p256"}, f"list-keys -p np-imp: {rows}")
    rows = table_rows(n.ok(["list-keys", "--no-details", "-s", "label np-p256"], op))
    check([row[0] for row in rows] == ["np-p256"], f"list-keys -s: {rows}")
    rows = table_rows(n.ok(["list-keys", "--no-details", "-f", "x"], op))
    check({row[0] for row in rows} == all_ids - {"np-imp-p256"}, f"list-keys -f as op1 without the tag: {rows}")
    step("list-keys with details, -p prefix, -s label, -f filter (an Operator without the tag)")

    # get-key and --public-key
    pems = {}
    for key_id in sorted(all_ids):
        info = fields(n.ok(["get-key", key_id], op))
        pem = n.ok(["get-key", key_id, "--public-key"], op).strip() + "\n"
        public = serialization.load_pem_public_key(pem.encode())
        if key_id in expected_pems:
            check(spki(public) == spki(serialization.load_pem_public_key(expected_pems[key_id].encode())),
                  f"{key_id}: get-key --public-key is not the imported key")
        if isinstance(public, rsa.RSAPublicKey):
            check(b64field(info["Modulus"]) == big(public.public_numbers().n), f"{key_id}: modulus {info}")
        elif isinstance(public, ec.EllipticCurvePublicKey):
            point = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
            check(b64field(info["Data"]) == point, f"{key_id}: EC data {info}")
        else:
            raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            check(b64field(info["Data"]) == raw, f"{key_id}: Ed25519 data {info}")
        pems[key_id] = pem
    n.fails(["get-key", "missing"], "not found", op)
    step("get-key agrees with get-key --public-key; imports are pyca's keys; a missing key fails")

    # sign, each signature verified by pyca
    types = {"np-rsa": KeyType.RSA, "np-imp-rsa": KeyType.RSA, "np-p256": KeyType.EC_P256,
             "np-imp-p256": KeyType.EC_P256, "np-ed": KeyType.CURVE25519, imp_ed: KeyType.CURVE25519}
    modes = {"np-rsa": [SignMode.PKCS1, SignMode.PSS_SHA256], "np-imp-rsa": [SignMode.PKCS1, SignMode.PSS_SHA512]}
    n.ok(["add-operator-tag", OP, "signers"], admin)
    count = 0
    for key_id, key_type in types.items():
        for mode in modes.get(key_id, [SignMode.ECDSA if key_type == KeyType.EC_P256 else SignMode.EDDSA]):
            data = b64(sign_input(mode, key_type))
            out = n.ok(["sign", "-k", key_id, "-d", data, "-m", mode.value], op, via_process=(count == 0))
            try:
                verify(pems[key_id], mode, base64.b64decode(out.strip()), f"{key_id} {mode.value}")
            except VerifyFailed as err:
                raise CheckFailed(str(err))
            count += 1
    n.fails(["sign", "-k", "np-imp-p256", "-d", b64(sign_input(SignMode.ECDSA, KeyType.EC_P256)), "-m", "ECDSA"],
            "Access denied", op2)
    n.fails(["sign", "-k", "np-ed", "-d", b64(b"m"), "-m", "EdDSA"], "requires the role Operator", admin)
    n.fails(["sign", "-k", "np-ed", "-d", b64(b"m"), "-m", "ECDSA"], "Bad request", op)
    step(f"sign: {count} signatures (PKCS1, PSS, ECDSA, EdDSA) verified by pyca; untagged Operator, "
         "Administrator and a wrong mode fail")

    # tags and labels
    n.ok(["add-key-tag", "np-ed", "gate"], admin)
    check(fields(n.ok(["get-key", "np-ed"], admin)).get("Tags") == "gate", "add-key-tag: get-key shows no tag")
    n.fails(["sign", "-k", "np-ed", "-d", b64(b"m"), "-m", "EdDSA"], "Access denied", op)
    n.ok(["delete-key-tag", "np-ed", "gate"], admin)
    check("Tags" not in fields(n.ok(["get-key", "np-ed"], admin)), "delete-key-tag: get-key still shows a tag")
    n.fails(["delete-key-tag", "np-ed", "gate"], "not found", admin)
    n.ok(["set-key-label", "np-rsa", "a new label"], admin)
    check(fields(n.ok(["get-key", "np-rsa"], admin)).get("Label") == "a new label", "set-key-label not shown")
    n.ok(["delete-key-label", "np-rsa"], admin)
    check("Label" not in fields(n.ok(["get-key", "np-rsa"], admin)), "delete-key-label: label still shown")
    n.fails(["set-key-label", "np-rsa", "x" * 33], "Unexpected API error 400", admin)
    step("add/delete-key-tag (a tagged key refuses an Operator without it), set/delete-key-label; errors")

    # certificates
    cert = make_cert(pems["np-p256"])
    path = os.path.join(n.work_dir, "np-p256.pem")
    with open(path, "wb") as f:
        f.write(cert)
    n.ok(["set-certificate", "-k", "np-p256", path], admin)
    got = n.ok(["get-certificate", "-k", "np-p256"], op)
    check(got.rstrip("\n") == cert.decode().rstrip("\n"), f"get-certificate printed another certificate:\n{got}")
    parsed = x509.load_pem_x509_certificate(got.encode())
    check(spki(parsed.public_key()) == spki(serialization.load_pem_public_key(pems["np-p256"].encode())),
          "the certificate's key is not the key's")
    n.fails(["set-certificate", "-k", "np-p256", path], "already has a certificate", admin)
    n.fails(["set-certificate", "-k", "np-ed", path], "invalid certificate", admin)
    n.ok(["delete-certificate", "-k", "np-p256"], admin)
    n.fails(["get-certificate", "-k", "np-p256"], "not found", op)
    step("set-certificate (pyca's PEM), get-certificate prints it, delete-certificate; another key's cert fails")

    # move and delete
    n.ok(["move-key", "np-imp-rsa", "np-moved"], admin)
    n.fails(["get-key", "np-imp-rsa"], "not found", admin)
    out = n.ok(["sign", "-k", "np-moved", "-d", b64(sign_input(SignMode.PKCS1, KeyType.RSA)), "-m", "PKCS1"], op)
    try:
        verify(pems["np-imp-rsa"], SignMode.PKCS1, base64.b64decode(out.strip()), "np-moved")
    except VerifyFailed as err:
        raise CheckFailed(str(err))
    n.fails(["move-key", "np-moved", "np-rsa"], "already exists", admin)
    n.ok(["delete-key", "np-moved"], admin)
    n.fails(["delete-key", "np-moved"], "not found", admin)
    rows = table_rows(n.ok(["list-keys", "--no-details"], admin))
    check({row[0] for row in rows} == all_ids - {"np-imp-rsa"}, f"list-keys after move and delete: {rows}")
    step("move-key (the key signs under its new id, pyca verifies), delete-key; errors")


def part_import(n):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from nethsm import KeyType, SignMode
    from nethsm_keys import make_cert, sign_input, spki, verify

    admin, op, _ = provision_and_users(n)
    keys = {"pem-rsa": (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RSA_Signature_PKCS1",
                        SignMode.PKCS1, KeyType.RSA),
            "pem-p256": (ec.generate_private_key(ec.SECP256R1()), "ECDSA_Signature", SignMode.ECDSA, KeyType.EC_P256),
            "pem-ed": (ed25519.Ed25519PrivateKey.generate(), "EdDSA_Signature", SignMode.EDDSA, KeyType.CURVE25519)}
    for key_id, (key, mechanism, mode, key_type) in keys.items():
        path = os.path.join(n.work_dir, f"{key_id}.key")
        with open(path, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        out = n.ok(["import-key", "-m", mechanism, "-k", key_id, "-s", f"label {key_id}", path], admin)
        os.remove(path)
        check(f"Key {key_id} added" in out, f"import-key printed:\n{out}")
        pem = n.ok(["get-key", key_id, "--public-key"], op).strip() + "\n"
        public = key.public_key()
        check(spki(serialization.load_pem_public_key(pem.encode())) == spki(public), f"{key_id}: another key")
        signature = n.ok(["sign", "-k", key_id, "-d", base64.b64encode(sign_input(mode, key_type)).decode(),
                          "-m", mode.value], op)
        verify(pem, mode, base64.b64decode(signature.strip()), key_id)
    step("import-key of pyca's PEM RSA, EC P-256 and Ed25519 keys; each signs what pyca verifies")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = make_cert(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode(), key)
    from cryptography import x509
    archive = pkcs12.serialize_key_and_certificates(
        b"np", key, x509.load_pem_x509_certificate(cert), None,
        serialization.BestAvailableEncryption(b"archive password"))
    path = os.path.join(n.work_dir, "key.p12")
    with open(path, "wb") as f:
        f.write(archive)
    n.ok(["import-pkcs12", "-m", "ECDSA_Signature", "-k", "p12-p256", "-p", "archive password", path], admin)
    os.remove(path)
    check(n.ok(["get-certificate", "-k", "p12-p256"], op).rstrip("\n") == cert.decode().rstrip("\n"),
          "import-pkcs12: the certificate is not the archive's")
    pem = n.ok(["get-key", "p12-p256", "--public-key"], op)
    check(spki(serialization.load_pem_public_key(pem.encode())) == spki(key.public_key()), "p12-p256: another key")
    step("import-pkcs12: the archive's key and certificate are stored")


def part_csr(n):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID
    from nethsm_keys import spki

    admin, op, _ = provision_and_users(n)
    n.ok(["generate-key", "-t", "EC_P256", "-m", "ECDSA_Signature", "-l", "256", "-k", "csr-p256"], admin)
    n.ok(["generate-key", "-t", "Curve25519", "-m", "EdDSA_Signature", "-l", "256", "-k", "csr-ed"], admin)
    for key_id in ("csr-p256", "csr-ed"):
        out = n.ok(["csr", "-k", key_id, "--country", "DE", "--state-or-province", "", "--locality", "Berlin",
                    "--organization", "Strongroom", "--organizational-unit", "", "--common-name",
                    f"{key_id}.example", "--email-address", ""], admin)
        csr = x509.load_pem_x509_csr(out.strip().encode())
        check(csr.is_signature_valid, f"{key_id}: pyca finds the CSR signature invalid")
        pem = n.ok(["get-key", key_id, "--public-key"], op)
        check(spki(csr.public_key()) == spki(serialization.load_pem_public_key(pem.encode())), f"{key_id}: key")
        subject = {a.oid: a.value for a in csr.subject}
        check(subject.get(NameOID.COMMON_NAME) == f"{key_id}.example" and subject.get(NameOID.LOCALITY_NAME) == "Berlin",
              f"{key_id}: subject {csr.subject}")
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        check(san.get_values_for_type(x509.DNSName) == [f"{key_id}.example"], f"{key_id}: SAN {san}")
    step("csr --key-id for EC P-256 and Ed25519: signed by the key (pyca), subject as asked, SAN the CN")
    common = ["--country", "", "--state-or-province", "", "--locality", "", "--organization", "",
              "--organizational-unit", "", "--email-address", "", "--common-name", "c.example"]
    out = n.ok(["csr", "-k", "csr-p256", "--san", "a.example", "--san", "IP:192.0.2.7"] + common, admin)
    san = x509.load_pem_x509_csr(out.strip().encode()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    check(san.get_values_for_type(x509.DNSName) == ["a.example"], f"--san: {san}")
    check([str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["192.0.2.7"], f"--san IP: {san}")
    out = n.ok(["csr", "-k", "csr-p256", "--no-san"] + common, admin)
    check(len(x509.load_pem_x509_csr(out.strip().encode()).extensions) == 0, "--no-san: a SAN is there")
    step("csr --san (DNS and IP:) and --no-san")


def part_crypt(n):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    admin, op, _ = provision_and_users(n)
    secret = os.urandom(32)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    n.ok(["add-key", "-t", "Generic", "-m", "AES_Encryption_CBC", "-m", "AES_Decryption_CBC", "-d", b64(secret),
          "-k", "aes"], admin)
    plain, iv = b"sixteen byte blk" * 2, os.urandom(16)
    out = n.ok(["encrypt", "-k", "aes", "-d", b64(plain), "-m", "AES_CBC", "-iv", b64(iv)], op)
    encrypted = base64.b64decode(re.search(r"Encrypted: (\S+)", out).group(1))
    dec = Cipher(algorithms.AES(secret), modes.CBC(iv)).decryptor()
    check(dec.update(encrypted) + dec.finalize() == plain, "pyca does not decrypt nitropy's AES-CBC ciphertext")
    out = n.ok(["decrypt", "-k", "aes", "-d", b64(encrypted), "-m", "AES_CBC", "-iv", b64(iv)], op)
    check(base64.b64decode(out.strip()) == plain, "decrypt AES_CBC gave another message")
    step("encrypt/decrypt AES_CBC with an imported Generic key, checked by pyca")
    n.ok(["generate-key", "-t", "RSA", "-m", "RSA_Decryption_OAEP_SHA256", "-m", "RSA_Decryption_PKCS1",
          "-l", "2048", "-k", "rsa-dec"], admin)
    public = serialization.load_pem_public_key(n.ok(["get-key", "rsa-dec", "--public-key"], op).encode())
    secret_msg = b"wrapped for the HSM"
    for mode, pad in (("PKCS1", padding.PKCS1v15()),
                      ("OAEP_SHA256", padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))):
        out = n.ok(["decrypt", "-k", "rsa-dec", "-d", b64(public.encrypt(secret_msg, pad)), "-m", mode], op)
        check(base64.b64decode(out.strip()) == secret_msg, f"decrypt {mode} gave another message")
    step("decrypt PKCS1 and OAEP_SHA256 of pyca's ciphertexts")


def main():
    global part_name
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--fingerprint", required=True)
    parser.add_argument("--work-dir", required=True, help="for the CA file and nitropy's log files")
    parser.add_argument("--key-generations", type=int, default=20, help="for the test part")
    parser.add_argument("part", choices=["test", "keys", "import", "csr", "crypt"])
    args = parser.parse_args()
    part_name = args.part
    # nitropy writes a log file into the temp dir when imported: keep it in the work dir.
    os.environ["TMPDIR"] = args.work_dir
    import tempfile
    tempfile.tempdir = None
    from pinned_tls import pinned_ca_file
    try:
        ca = pinned_ca_file(args.host, args.fingerprint, os.path.join(args.work_dir, "ca.pem"))
        n = Nitropy(args.host, ca, args.work_dir)
        from importlib.metadata import version
        step(f"pynitrokey {version('pynitrokey')}, nethsm {version('nethsm')}; server {args.host}, certificate pinned")
        if args.part == "test":
            part_test(n, args.key_generations)
        else:
            {"keys": part_keys, "import": part_import, "csr": part_csr, "crypt": part_crypt}[args.part](n)
        step("all checks passed")
    except NotThereYet as e:
        print(f"nitropy {part_name}: MISSING after step {last_step!r}: {e}", file=sys.stderr, flush=True)
        sys.exit(3)
    except CheckFailed as e:
        fail(str(e))
    except Exception as e:
        traceback.print_exc()
        fail(f"unexpected {type(e).__name__}: {e}")


def fail(message):
    print(f"nitropy {part_name}: FAILED after step {last_step!r}: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Drives a fresh Strongroom server's key store with the real NetHSM Python client (`nethsm`
on PyPI) and checks every result with pyca/cryptography, never with the server's own code.

Usage: nethsm_keys.py --host 127.0.0.1:PORT --fingerprint AA:BB:.. --ca-file PATH PART

The server must be freshly started and Unprovisioned: each PART provisions it. The client
verifies TLS against the server's own certificate, fetched and checked against the pinned
fingerprint (pinned_tls.py), never with verification turned off.

PART is one of
  keys     generate (RSA, EC P-256, Ed25519), import keys made by pyca, list (with filter,
           prefix, label), get, public.pem, tag restrictions, labels, certificates, sign in
           every mode (every signature verified by pyca), move and delete; and the errors.
  decrypt  RSA decryption RAW, PKCS1 and OAEP_* of what pyca encrypted.
  aes      AES-CBC encrypt and decrypt with Generic keys (imported: checked against pyca).
  csr      CSRs (csr.pem) of RSA, EC and Ed25519 keys, checked by pyca.

Exits 0 after printing "nethsm keys <PART>: all checks passed"; a failed check exits 1 with
a message naming the step; what the server does not have (the route unknown, or a key type,
mechanism or media type refused as such) exits 3 with "MISSING".
"""

import argparse
import datetime
import os
import sys
import time
import traceback

import nethsm
from nethsm import Base64, KeyMechanism as M, KeyType, SignMode
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pinned_tls import pinned_ca_file  # noqa: E402

UNLOCK = "keys interop unlock passphrase"
ADMIN = "keys interop admin passphrase"
OP1, OP1_PASS = "op1", "keys interop operator one"
OP2, OP2_PASS = "op2", "keys interop operator two"
# The SDK requires a length of at least 128 for every type; the server uses it only for RSA
# (and Generic) keys.
NO_LENGTH = 256
MESSAGE = b"Strongroom signs what the nethsm client sends."

PSS = {
    SignMode.PSS_MD5: hashes.MD5,
    SignMode.PSS_SHA1: hashes.SHA1,
    SignMode.PSS_SHA224: hashes.SHA224,
    SignMode.PSS_SHA256: hashes.SHA256,
    SignMode.PSS_SHA384: hashes.SHA384,
    SignMode.PSS_SHA512: hashes.SHA512,
}
RSA_SIGN = [M.RSA_SIGNATURE_PKCS1] + [M("RSA_Signature_" + m.value) for m in PSS]


class CheckFailed(Exception):
    pass


class RouteMissing(Exception):
    pass


last_step = "start"
STARTED = time.monotonic()
part_name = "?"


def step(message):
    global last_step
    last_step = message
    print(f"nethsm keys {part_name}: [{time.monotonic() - STARTED:5.1f} s] {message}", flush=True)


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def status_of(error):
    """The HTTP status behind a NetHSMError: the SDK raises it while handling the generated
    client's ApiException, which stays as the error's context."""
    e = error
    while e is not None:
        status = getattr(e, "status", None)
        if isinstance(status, int):
            return status
        e = e.__cause__ or e.__context__
    return None


def expect_status(what, fn, status, needle=None):
    """Runs fn, which must fail with HTTP `status` (and a message containing `needle`)."""
    try:
        fn()
    except nethsm.NetHSMError as e:
        got = status_of(e)
        check(got == status, f"{what}: expected HTTP {status}, got {got}: {e}")
        if needle is not None:
            check(needle in str(e), f"{what}: expected {needle!r} in the error, got {e}")
        return str(e)
    raise CheckFailed(f"{what}: succeeded, expected HTTP {status}")


def new_route(what, fn):
    """Runs the first call of what another part of issue 13 adds. An answer that says it is not
    there (yet) is reported as such, not as a wrong answer: the route unknown (404 "Resource
    not found.", 405, 501), or a key type or mechanism "not supported yet" (400)."""
    try:
        return fn()
    except nethsm.NetHSMError as e:
        status, text = status_of(e), str(e)
        if ((status == 404 and "Resource not found" in text) or status in (405, 501)
                or (status == 400 and "not supported yet" in text)):
            raise RouteMissing(f"{what}: HTTP {status}: {text}")
        raise


def b64(data):
    return Base64.encode(data)


def big(n, size=None):
    return n.to_bytes(size or (n.bit_length() + 7) // 8, "big")


def spki(key):
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def digest(hash_cls, data):
    h = hashes.Hash(hash_cls())
    h.update(data)
    return h.finalize()


class Session:
    def __init__(self, host, ca_file):
        self.host = host
        self.ca_file = ca_file

    def client(self, user=None, password=None):
        auth = nethsm.Authentication(username=user, password=password) if user else None
        return nethsm.NetHSM(self.host, auth=auth, verify_tls=True, ca_certs=self.ca_file)

    def refused_without_ca(self):
        """Verification is on: without the pinned certificate the client refuses the server
        (after urllib3's retries, some 9 s: so only the keys part checks it)."""
        try:
            nethsm.NetHSM(self.host, verify_tls=True).get_state()
            raise CheckFailed("the client accepted the self-signed certificate without a CA file")
        except nethsm.NetHSMRequestError as e:
            check(e.type == nethsm.RequestErrorType.SSL_ERROR, f"expected an SSL error, got {e}")
        step("TLS: without the pinned certificate the client refuses the server")

    def provision(self):
        anon = self.client()
        check(anon.get_state() == nethsm.State.UNPROVISIONED, "server is not Unprovisioned")
        anon.provision(UNLOCK, ADMIN, datetime.datetime.now(datetime.timezone.utc))
        self.admin = self.client("admin", ADMIN)
        self.admin.add_user("Keys Operator One", nethsm.Role.OPERATOR, OP1_PASS, OP1)
        self.admin.add_user("Keys Operator Two", nethsm.Role.OPERATOR, OP2_PASS, OP2)
        self.op1 = self.client(OP1, OP1_PASS)
        self.op2 = self.client(OP2, OP2_PASS)
        step("provisioned over TLS verified against the pinned certificate; two Operators")


def verify(public_pem, mode, signature, what):
    """Verifies `signature` over MESSAGE (as each mode defines its input) with pyca."""
    key = serialization.load_pem_public_key(public_pem.encode())
    try:
        if mode == SignMode.EDDSA:
            check(len(signature) == 64, f"{what}: EdDSA signature of {len(signature)} bytes")
            key.verify(signature, MESSAGE)
        elif mode == SignMode.ECDSA:
            h = {"secp256r1": hashes.SHA256, "secp384r1": hashes.SHA384, "secp521r1": hashes.SHA512}[key.curve.name]
            key.verify(signature, MESSAGE, ec.ECDSA(h()))
        elif mode == SignMode.PKCS1:
            key.verify(signature, MESSAGE, padding.PKCS1v15(), hashes.SHA256())
        else:
            h = PSS[mode]()
            key.verify(signature, MESSAGE, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
    except Exception as e:  # InvalidSignature carries no message
        raise CheckFailed(f"{what}: pyca rejects the {mode.value} signature: {type(e).__name__} {e}")


def sign_input(mode, key_type):
    """What the NetHSM sign modes take: a DigestInfo for PKCS1, the digest for PSS and ECDSA,
    the message for EdDSA."""
    if mode == SignMode.EDDSA:
        return MESSAGE
    if mode == SignMode.ECDSA:
        h = {KeyType.EC_P256: hashes.SHA256, KeyType.EC_P384: hashes.SHA384, KeyType.EC_P521: hashes.SHA512}[key_type]
        return digest(h, MESSAGE)
    if mode == SignMode.PKCS1:
        return bytes.fromhex("3031300d060960864801650304020105000420") + digest(hashes.SHA256, MESSAGE)
    return digest(PSS[mode], MESSAGE)


def modes_of(key_type):
    if key_type == KeyType.RSA:
        return [SignMode.PKCS1] + list(PSS)
    return [SignMode.EDDSA] if key_type == KeyType.CURVE25519 else [SignMode.ECDSA]


def check_public(s, key_id, key_type, expected_pem=None):
    """GET /keys/{id} and public.pem agree with each other (and with the imported key's own
    public key); answers the PEM."""
    key = s.admin.get_key(key_id)
    check(key.key_id == key_id and key.type == key_type, f"{key_id}: get_key answered {key}")
    pem = s.op1.get_key_public_key(key_id)
    public = serialization.load_pem_public_key(pem.encode())
    if expected_pem is not None:
        check(spki(public) == spki(serialization.load_pem_public_key(expected_pem.encode())),
              f"{key_id}: public.pem is not the imported key's public key")
    if key_type == KeyType.RSA:
        n = public.public_numbers()
        check(key.public_key.modulus.decode() == big(n.n), f"{key_id}: modulus differs from public.pem")
        check(key.public_key.public_exponent.decode() == big(n.e), f"{key_id}: exponent differs")
    elif key_type == KeyType.CURVE25519:
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        check(key.public_key.data.decode() == raw, f"{key_id}: Ed25519 public data differs")
    else:
        point = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        check(key.public_key.data.decode() == point, f"{key_id}: EC point differs from public.pem")
    return pem


def sign_all(s, client, key_id, key_type, pem):
    for mode in modes_of(key_type):
        signature = client.sign(key_id, b64(sign_input(mode, key_type)), mode).decode()
        verify(pem, mode, signature, f"{key_id} {mode.value}")
    return len(modes_of(key_type))


def make_cert(public_pem, signer=None):
    """A certificate for this public key, made and signed by pyca (PEM bytes)."""
    public = serialization.load_pem_public_key(public_pem.encode())
    ca = signer or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nethsm client interop")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(ca, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def part_keys(s):
    s.refused_without_ca()
    s.provision()
    admin, op1, op2 = s.admin, s.op1, s.op2

    # --- generate ------------------------------------------------------------------------------
    generated = {
        "sdk-rsa": (KeyType.RSA, RSA_SIGN, 2048),
        "sdk-p256": (KeyType.EC_P256, [M.ECDSA_SIGNATURE], NO_LENGTH),
        "sdk-ed": (KeyType.CURVE25519, [M.EDDSA_SIGNATURE], NO_LENGTH),
    }
    for key_id, (key_type, mechanisms, length) in generated.items():
        got = admin.generate_key(key_type, mechanisms, length, key_id, label=f"label {key_id}")
        check(got == key_id, f"generate_key {key_id} answered {got!r}")
        key = admin.get_key(key_id)
        check(sorted(m.value for m in key.mechanisms) == sorted(m.value for m in mechanisms),
              f"{key_id}: mechanisms {key.mechanisms}")
        check(key.label == f"label {key_id}", f"{key_id}: label {key.label!r}")
        check(key.tags == [] and key.operations == 0, f"{key_id}: tags {key.tags}, operations {key.operations}")
    random_id = admin.generate_key(KeyType.EC_P256, [M.ECDSA_SIGNATURE], NO_LENGTH)
    check(len(random_id) == 20 and random_id.isalnum(), f"generate_key without id answered {random_id!r}")
    step(f"generated RSA-2048, EC P-256, Ed25519 with ids and labels, and one EC key as {random_id}")
    expect_status("generate_key with an id that exists",
                  lambda: admin.generate_key(KeyType.EC_P256, [M.ECDSA_SIGNATURE], NO_LENGTH, "sdk-p256"), 409)
    expect_status("generate_key RSA of 1000 bits",
                  lambda: admin.generate_key(KeyType.RSA, RSA_SIGN, 1000, "sdk-bad"), 400)
    expect_status("generate_key EdDSA mechanism on an RSA key",
                  lambda: admin.generate_key(KeyType.RSA, [M.EDDSA_SIGNATURE], 2048, "sdk-bad"), 400)
    expect_status("generate_key as an Operator",
                  lambda: op1.generate_key(KeyType.EC_P256, [M.ECDSA_SIGNATURE], NO_LENGTH, "sdk-bad"), 403,
                  "Access denied")
    step("generate: existing id 409, bad length 400, wrong mechanism 400, Operator 403")

    # --- import keys made by pyca --------------------------------------------------------------
    r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rn = r.private_numbers()
    e = ed25519.Ed25519PrivateKey.generate()
    seed = e.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    p = ec.generate_private_key(ec.SECP256R1())
    pem_of = lambda k: k.public_key().public_bytes(  # noqa: E731
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    imported = {
        "imp-rsa": (KeyType.RSA, RSA_SIGN, nethsm.RsaPrivateKey(
            prime_p=b64(big(rn.p)), prime_q=b64(big(rn.q)), public_exponent=b64(big(rn.public_numbers.e))), pem_of(r)),
        "imp-p256": (KeyType.EC_P256, [M.ECDSA_SIGNATURE], nethsm.GenericPrivateKey(
            data=b64(big(p.private_numbers().private_value, 32))), pem_of(p)),
        "imp-ed": (KeyType.CURVE25519, [M.EDDSA_SIGNATURE], nethsm.GenericPrivateKey(data=b64(seed)), pem_of(e)),
    }
    for key_id, (key_type, mechanisms, private, _) in list(imported.items()):
        # PUT /keys/{id} for two of them, POST /keys (a server-made id) for the Ed25519 key.
        if key_type == KeyType.CURVE25519:
            got = admin.add_key(None, key_type, mechanisms, private, tags=["signers"], label="imported ed")
            check(len(got) == 20, f"add_key without id answered {got!r}")
            imported[got] = imported.pop(key_id)
        else:
            got = admin.add_key(key_id, key_type, mechanisms, private, label=f"label {key_id}")
            check(got == key_id, f"add_key {key_id} answered {got!r}")
    imp_ed = next(k for k, v in imported.items() if v[0] == KeyType.CURVE25519)
    check(admin.get_key(imp_ed).tags == ["signers"], f"{imp_ed}: tags given at import are lost")
    step(f"imported pyca's RSA-2048 and EC P-256 (PUT) and Ed25519 (POST, as {imp_ed}, tagged)")
    expect_status("add_key with an id that exists",
                  lambda: admin.add_key("imp-rsa", KeyType.EC_P256, [M.ECDSA_SIGNATURE],
                                        imported["imp-p256"][2]), 409)
    expect_status("add_key of an EC scalar longer than the curve's",
                  lambda: admin.add_key("imp-bad", KeyType.EC_P256, [M.ECDSA_SIGNATURE],
                                        nethsm.GenericPrivateKey(data=b64(b"\x01" * 33))), 400)
    expect_status("add_key of RSA primes that are not prime",
                  lambda: admin.add_key("imp-bad", KeyType.RSA, RSA_SIGN, nethsm.RsaPrivateKey(
                      prime_p=b64(big(rn.p + 1)), prime_q=b64(big(rn.q)), public_exponent=b64(b"\x01\x00\x01"))), 400)
    step("import: existing id 409, bad EC scalar 400, bad RSA primes 400")

    # --- list and get --------------------------------------------------------------------------
    all_ids = set(generated) | set(imported) | {random_id}
    check(set(admin.list_keys()) == all_ids, f"list_keys {sorted(admin.list_keys())} != {sorted(all_ids)}")
    check(set(op1.list_keys()) == all_ids, "an Operator lists a different set")
    check(set(admin.list_keys(prefix="sdk-")) == set(generated), f"prefix sdk-: {admin.list_keys(prefix='sdk-')}")
    check(admin.list_keys(prefix="none-") == [], "prefix none-: not empty")
    check(admin.list_keys(label="label sdk-ed") == ["sdk-ed"], f"label filter: {admin.list_keys(label='label sdk-ed')}")
    check(set(admin.list_keys(prefix="imp-", label="label imp-rsa")) == {"imp-rsa"}, "prefix and label")
    # filter: an Operator sees only the keys whose tags it meets; keys without tags it meets too.
    filtered = set(op1.list_keys(filter="any"))
    check(filtered == all_ids - {imp_ed}, f"op1 with filter sees {sorted(filtered)}")
    step(f"list_keys: {len(all_ids)} keys; prefix, label and the Operator's filter work")
    pems = {}
    for key_id, (key_type, _, _) in generated.items():
        pems[key_id] = check_public(s, key_id, key_type)
    for key_id, (key_type, _, _, expected) in imported.items():
        pems[key_id] = check_public(s, key_id, key_type, expected)
    expect_status("get_key of a missing key", lambda: admin.get_key("missing"), 404)
    expect_status("get_key_public_key of a missing key", lambda: op1.get_key_public_key("missing"), 404)
    step("get_key and public.pem agree, imports are pyca's own keys; missing key 404")

    # --- sign ----------------------------------------------------------------------------------
    count = 0
    for key_id, (key_type, *_) in list(generated.items()) + list(imported.items()):
        if key_id == imp_ed:
            continue  # tagged: below
        count += sign_all(s, op1, key_id, key_type, pems[key_id])
    step(f"{count} signatures (PKCS1 of a DigestInfo, PSS_MD5..SHA512, ECDSA, EdDSA) verified by pyca")
    expect_status("sign as Administrator",
                  lambda: admin.sign("sdk-ed", b64(MESSAGE), SignMode.EDDSA), 403, "Access denied")
    expect_status("sign a missing key", lambda: op1.sign("missing", b64(MESSAGE), SignMode.EDDSA), 404)
    expect_status("sign ECDSA with an Ed25519 key",
                  lambda: op1.sign("sdk-ed", b64(sign_input(SignMode.ECDSA, KeyType.EC_P256)), SignMode.ECDSA), 400)
    expect_status("sign ECDSA with a digest of the wrong length",
                  lambda: op1.sign("sdk-p256", b64(b"\x00" * 20), SignMode.ECDSA), 400)
    step("sign: Administrator 403, missing key 404, wrong mode 400, wrong digest length 400")

    # --- tag restrictions ----------------------------------------------------------------------
    expect_status("sign a tagged key without the tag",
                  lambda: op1.sign(imp_ed, b64(MESSAGE), SignMode.EDDSA), 403)
    admin.add_operator_tag(OP1, "signers")
    verify(pems[imp_ed], SignMode.EDDSA, op1.sign(imp_ed, b64(MESSAGE), SignMode.EDDSA).decode(), imp_ed)
    check(imp_ed in op1.list_keys(filter="x"), "op1 with the tag does not see the tagged key")
    check(imp_ed not in op2.list_keys(filter="x"), "op2 without the tag sees the tagged key")
    check(imp_ed in op2.list_keys(), "op2 without a filter does not list the tagged key")
    admin.add_key_tag("sdk-p256", "signers")
    admin.add_key_tag("sdk-p256", "other")
    check(sorted(admin.get_key("sdk-p256").tags) == ["other", "signers"], "add_key_tag: tags not kept")
    expect_status("sign as op2 without either tag",
                  lambda: op2.sign("sdk-p256", b64(sign_input(SignMode.ECDSA, KeyType.EC_P256)), SignMode.ECDSA), 403)
    admin.delete_key_tag("sdk-p256", "signers")
    admin.delete_key_tag("sdk-p256", "other")
    check(admin.get_key("sdk-p256").tags == [], "delete_key_tag: tags left")
    count = sign_all(s, op2, "sdk-p256", KeyType.EC_P256, pems["sdk-p256"])
    expect_status("delete_key_tag of a tag the key does not have",
                  lambda: admin.delete_key_tag("sdk-p256", "other"), 404)
    expect_status("add_key_tag with an invalid tag", lambda: admin.add_key_tag("sdk-p256", "bad tag!"), 400)
    expect_status("add_key_tag on a missing key", lambda: admin.add_key_tag("missing", "t"), 404)
    expect_status("add_key_tag as an Operator", lambda: op1.add_key_tag("sdk-p256", "t"), 403)
    step("tags: a tagged key signs only for an Operator with its tag; filter; add/delete; errors")

    # --- labels --------------------------------------------------------------------------------
    admin.set_key_label("sdk-rsa", "renamed ✓")
    check(admin.get_key("sdk-rsa").label == "renamed ✓", "set_key_label: not kept")
    check(admin.list_keys(label="renamed ✓") == ["sdk-rsa"], "list_keys by the new UTF-8 label")
    admin.set_key_label("sdk-rsa", None)  # the SDK sends "" for None
    check(admin.get_key("sdk-rsa").label in ("", None), "set_key_label(None): label kept")
    expect_status("set_key_label longer than 32 bytes", lambda: admin.set_key_label("sdk-rsa", "x" * 33), 400)
    expect_status("set_key_label of a missing key", lambda: admin.set_key_label("missing", "x"), 404)
    expect_status("set_key_label as an Operator", lambda: op1.set_key_label("sdk-rsa", "x"), 403)
    step("labels: set (UTF-8), cleared, too long 400, missing key 404, Operator 403")

    # --- certificates --------------------------------------------------------------------------
    for key_id in ("sdk-rsa", "imp-p256", "sdk-ed"):
        cert = make_cert(pems[key_id])
        admin.set_key_certificate(key_id, cert)
        got = op1.get_key_certificate(key_id)
        check(got == cert, f"{key_id}: get_key_certificate is not the stored PEM byte for byte")
        parsed = x509.load_pem_x509_certificate(got)
        check(spki(parsed.public_key()) == spki(serialization.load_pem_public_key(pems[key_id].encode())),
              f"{key_id}: the certificate's key is not the key's")
        expect_status(f"{key_id}: set_key_certificate again", lambda: admin.set_key_certificate(key_id, cert), 409)
    admin.delete_key_certificate("sdk-ed")
    expect_status("get_key_certificate after delete", lambda: op1.get_key_certificate("sdk-ed"), 404)
    expect_status("delete_key_certificate of a key without one", lambda: admin.delete_key_certificate("sdk-ed"), 404)
    expect_status("set_key_certificate of another key's certificate",
                  lambda: admin.set_key_certificate("sdk-ed", make_cert(pems["imp-p256"])), 400)
    expect_status("set_key_certificate of bytes that are no certificate",
                  lambda: admin.set_key_certificate("sdk-ed", b"not a certificate"), 400)
    expect_status("set_key_certificate on a missing key",
                  lambda: admin.set_key_certificate("missing", make_cert(pems["sdk-ed"])), 404)
    expect_status("set_key_certificate as an Operator",
                  lambda: op1.set_key_certificate("sdk-ed", make_cert(pems["sdk-ed"])), 403)
    step("certificates: pyca's PEM set, read back byte for byte, 409 twice, deleted; errors")

    # --- move and delete -----------------------------------------------------------------------
    rsa_cert = make_cert(pems["imp-rsa"])
    admin.set_key_certificate("imp-rsa", rsa_cert)
    admin.add_key_tag("imp-rsa", "movers")
    admin.set_key_label("imp-rsa", "moving")
    admin.add_operator_tag(OP1, "movers")
    admin.move_key("imp-rsa", "moved-rsa")
    expect_status("get_key of the old id after move", lambda: admin.get_key("imp-rsa"), 404)
    moved = check_public(s, "moved-rsa", KeyType.RSA, imported["imp-rsa"][3])
    sign_all(s, op1, "moved-rsa", KeyType.RSA, moved)
    check(op1.get_key_certificate("moved-rsa") == rsa_cert, "the certificate did not move with the key")
    moved_key = admin.get_key("moved-rsa")
    check(moved_key.tags == ["movers"] and moved_key.label == "moving", f"moved key reads as {moved_key}")
    expect_status("move_key onto an existing id", lambda: admin.move_key("moved-rsa", "sdk-rsa"), 409)
    expect_status("move_key of a missing key", lambda: admin.move_key("missing", "other"), 404)
    expect_status("move_key as an Operator", lambda: op1.move_key("moved-rsa", "other"), 403)
    step("move: the key signs (pyca verifies) under its new id, old id 404; errors")
    for key_id in ("moved-rsa", "sdk-ed", random_id):
        admin.delete_key(key_id)
        expect_status(f"get_key {key_id} after delete", lambda: admin.get_key(key_id), 404)
    check(set(admin.list_keys()) == all_ids - {"imp-rsa", "sdk-ed", random_id}, "list_keys after delete")
    expect_status("delete_key of a deleted key", lambda: admin.delete_key("sdk-ed"), 404)
    expect_status("delete_key as an Operator", lambda: op1.delete_key("sdk-p256"), 403)
    step("delete: gone from get and list; again 404; Operator 403")

    # --- namespaces ----------------------------------------------------------------------------
    admin.add_user("Namespace Admin", nethsm.Role.ADMINISTRATOR, "namespace admin passphrase", "admin", "ns1")
    admin.add_user("Namespace Operator", nethsm.Role.OPERATOR, "namespace operator passphrase", "op", "ns1")
    admin.add_namespace("ns1")
    ns_admin = s.client("ns1~admin", "namespace admin passphrase")
    ns_op = s.client("ns1~op", "namespace operator passphrase")
    # The same id as a root key: a namespace's keys are its own.
    check(ns_admin.generate_key(KeyType.EC_P256, [M.ECDSA_SIGNATURE], NO_LENGTH, "sdk-p256") == "sdk-p256",
          "a namespace's generate_key of an id root has")
    check(ns_admin.list_keys() == ["sdk-p256"] and ns_op.list_keys() == ["sdk-p256"], "ns1 lists other keys")
    ns_pem = ns_op.get_key_public_key("sdk-p256")
    check(ns_pem != pems["sdk-p256"], "ns1's sdk-p256 has root's public key")
    sign_all(s, ns_op, "sdk-p256", KeyType.EC_P256, ns_pem)
    sign_all(s, op2, "sdk-p256", KeyType.EC_P256, pems["sdk-p256"])
    check(set(admin.list_keys()) == all_ids - {"imp-rsa", "sdk-ed", random_id}, "root lists ns1's keys")
    expect_status("a namespace Operator signs a root key", lambda: ns_op.sign(
        "imp-p256", b64(sign_input(SignMode.ECDSA, KeyType.EC_P256)), SignMode.ECDSA), 404)
    step("namespaces: ns1's sdk-p256 is its own key (pyca verifies both); root's keys are not ns1's")

    # --- locked ----------------------------------------------------------------------------------
    admin.lock()
    expect_status("list_keys when Locked", lambda: op1.list_keys(), 412)
    expect_status("sign when Locked", lambda: op1.sign(
        "sdk-p256", b64(sign_input(SignMode.ECDSA, KeyType.EC_P256)), SignMode.ECDSA), 412)
    s.client().unlock(UNLOCK)
    sign_all(s, op1, "imp-p256", KeyType.EC_P256, pems["imp-p256"])
    step("Locked: list and sign 412; after unlock the keys sign again")


def part_decrypt(s):
    s.provision()
    admin, op1 = s.admin, s.op1
    oaep = {"MD5": hashes.MD5, "SHA1": hashes.SHA1, "SHA224": hashes.SHA224,
            "SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}
    mechanisms = [M.RSA_DECRYPTION_RAW, M.RSA_DECRYPTION_PKCS1] + [M("RSA_Decryption_OAEP_" + h) for h in oaep]
    new_route("generate an RSA key with decryption mechanisms",
              lambda: admin.generate_key(KeyType.RSA, mechanisms, 2048, "dec-gen"))
    r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rn = r.private_numbers()
    admin.add_key("dec-imp", KeyType.RSA, mechanisms, nethsm.RsaPrivateKey(
        prime_p=b64(big(rn.p)), prime_q=b64(big(rn.q)), public_exponent=b64(big(rn.public_numbers.e))))
    plain = b"a secret the client wraps for the HSM"
    for key_id in ("dec-gen", "dec-imp"):
        public = serialization.load_pem_public_key(op1.get_key_public_key(key_id).encode())
        size = public.key_size // 8
        first = new_route(f"{key_id}: decrypt PKCS1", lambda: op1.decrypt(
            key_id, b64(public.encrypt(plain, padding.PKCS1v15())), nethsm.DecryptMode.PKCS1))
        check(first.decode() == plain, f"{key_id}: PKCS1 decrypted to something else")
        for h, cls in oaep.items():
            if h == "MD5":
                # pyca refuses OAEP with MD5; PyCryptodome (an independent implementation) makes it.
                from Cryptodome.Cipher import PKCS1_OAEP
                from Cryptodome.Hash import MD5
                from Cryptodome.PublicKey import RSA as CryptodomeRsa
                c = PKCS1_OAEP.new(CryptodomeRsa.import_key(public.public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)),
                    hashAlgo=MD5).encrypt(plain)
            else:
                c = public.encrypt(plain, padding.OAEP(mgf=padding.MGF1(cls()), algorithm=cls(), label=None))
            got = op1.decrypt(key_id, b64(c), nethsm.DecryptMode("OAEP_" + h)).decode()
            check(got == plain, f"{key_id}: OAEP_{h} decrypted to something else")
        # RAW: the RSA primitive on a number below the modulus, the result as long as the key.
        m = int.from_bytes(b"\x00\x02" + b"\x11" * (size - 3) + b"\x2a", "big")
        n = public.public_numbers()
        c = pow(m, n.e, n.n).to_bytes(size, "big")
        got = op1.decrypt(key_id, b64(c), nethsm.DecryptMode.RAW).decode()
        check(got == m.to_bytes(size, "big"), f"{key_id}: RAW decrypted to something else")
        step(f"{key_id}: PKCS1, OAEP_MD5..SHA512 and RAW of pyca's ciphertexts decrypt")
    admin.generate_key(KeyType.RSA, [M.RSA_DECRYPTION_PKCS1], 2048, "dec-pkcs1-only")
    public = serialization.load_pem_public_key(op1.get_key_public_key("dec-pkcs1-only").encode())
    c = public.encrypt(plain, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
    expect_status("decrypt OAEP_SHA256 with a PKCS1-only key",
                  lambda: op1.decrypt("dec-pkcs1-only", b64(c), nethsm.DecryptMode.OAEP_SHA256), 400)
    # PKCS1 decryption uses implicit rejection (docs/security-model.md): bytes that are no
    # PKCS1 ciphertext decrypt to a synthetic message, the same each time, never an error.
    bogus = b64(b"\x01" * 256)
    first = op1.decrypt("dec-pkcs1-only", bogus, nethsm.DecryptMode.PKCS1)
    check(first == op1.decrypt("dec-pkcs1-only", bogus, nethsm.DecryptMode.PKCS1),
          "implicit rejection answered two different messages for one ciphertext")
    expect_status("decrypt PKCS1 of a ciphertext shorter than the modulus",
                  lambda: op1.decrypt("dec-pkcs1-only", b64(b"\x01" * 255), nethsm.DecryptMode.PKCS1), 400)
    expect_status("decrypt as Administrator",
                  lambda: admin.decrypt("dec-gen", b64(c), nethsm.DecryptMode.OAEP_SHA256), 403)
    expect_status("decrypt with a missing key",
                  lambda: op1.decrypt("missing", b64(c), nethsm.DecryptMode.OAEP_SHA256), 404)
    step("decrypt: wrong mechanism 400, implicit rejection, short ciphertext 400, Administrator 403, missing key 404")


def part_aes(s):
    s.provision()
    admin, op1 = s.admin, s.op1
    both = [M.AES_ENCRYPTION_CBC, M.AES_DECRYPTION_CBC]
    secret = os.urandom(32)
    new_route("import a Generic AES-256 key",
              lambda: admin.add_key("aes-imp", KeyType.GENERIC, both, nethsm.GenericPrivateKey(data=b64(secret))))
    key = admin.get_key("aes-imp")
    check(key.type == KeyType.GENERIC and key.public_key is None, f"Generic key reads as {key}")
    plain = b"sixteen byte blk" * 3
    iv = os.urandom(16)
    result = new_route("encrypt AES_CBC", lambda: op1.encrypt("aes-imp", b64(plain), nethsm.EncryptMode.AES_CBC, b64(iv)))
    check(result.iv.decode() == iv, "encrypt answered another IV than the one given")
    pyca = Cipher(algorithms.AES(secret), modes.CBC(iv)).decryptor()
    check(pyca.update(result.encrypted.decode()) + pyca.finalize() == plain,
          "pyca does not decrypt the server's AES-CBC ciphertext to the message")
    enc = Cipher(algorithms.AES(secret), modes.CBC(iv)).encryptor()
    theirs = enc.update(plain) + enc.finalize()
    got = op1.decrypt("aes-imp", b64(theirs), nethsm.DecryptMode.AES_CBC, b64(iv)).decode()
    check(got == plain, "the server does not decrypt pyca's AES-CBC ciphertext to the message")
    step("imported Generic key: AES-CBC encrypt checked by pyca, pyca's ciphertext decrypted")
    for bits in (128, 192, 256):
        admin.generate_key(KeyType.GENERIC, both, bits, f"aes-{bits}")
        result = op1.encrypt(f"aes-{bits}", b64(plain), nethsm.EncryptMode.AES_CBC)
        check(len(result.iv.decode()) == 16, f"aes-{bits}: the server's own IV is {len(result.iv.decode())} bytes")
        check(result.encrypted.decode() != plain and len(result.encrypted.decode()) == len(plain),
              f"aes-{bits}: ciphertext of {len(result.encrypted.decode())} bytes")
        got = op1.decrypt(f"aes-{bits}", result.encrypted, nethsm.DecryptMode.AES_CBC, result.iv).decode()
        check(got == plain, f"aes-{bits}: decrypt(encrypt(m)) != m")
    step("generated Generic AES-128/192/256 keys: encrypt with a server IV, decrypt back")
    admin.generate_key(KeyType.GENERIC, [M.AES_DECRYPTION_CBC], 256, "aes-dec-only")
    expect_status("encrypt with a decrypt-only key",
                  lambda: op1.encrypt("aes-dec-only", b64(plain), nethsm.EncryptMode.AES_CBC, b64(iv)), 400)
    expect_status("encrypt a message that is no whole number of blocks",
                  lambda: op1.encrypt("aes-imp", b64(b"seventeen bytes!!"), nethsm.EncryptMode.AES_CBC, b64(iv)), 400)
    expect_status("encrypt as Administrator",
                  lambda: admin.encrypt("aes-imp", b64(plain), nethsm.EncryptMode.AES_CBC, b64(iv)), 403)
    expect_status("encrypt with a missing key",
                  lambda: op1.encrypt("missing", b64(plain), nethsm.EncryptMode.AES_CBC, b64(iv)), 404)
    step("AES-CBC: wrong mechanism 400, partial block 400, Administrator 403, missing key 404")


def part_csr(s):
    s.provision()
    admin, op1 = s.admin, s.op1
    admin.generate_key(KeyType.RSA, [M.RSA_SIGNATURE_PKCS1], 2048, "csr-rsa")
    admin.generate_key(KeyType.EC_P256, [M.ECDSA_SIGNATURE], NO_LENGTH, "csr-p256")
    admin.generate_key(KeyType.CURVE25519, [M.EDDSA_SIGNATURE], NO_LENGTH, "csr-ed")
    for i, key_id in enumerate(("csr-rsa", "csr-p256", "csr-ed")):
        client = admin if i % 2 == 0 else op1  # both roles may ask for a CSR
        pem = new_route(f"{key_id}: csr.pem", lambda: client.key_csr(
            key_id, common_name=f"{key_id}.example", country="DE", organization="Strongroom",
            email_address="keys@example.org"))
        csr = x509.load_pem_x509_csr(pem.encode())
        check(csr.is_signature_valid, f"{key_id}: pyca finds the CSR's signature invalid")
        public = serialization.load_pem_public_key(op1.get_key_public_key(key_id).encode())
        check(spki(csr.public_key()) == spki(public), f"{key_id}: the CSR's key is not the key's")
        subject = {a.oid: a.value for a in csr.subject}
        check(subject.get(NameOID.COMMON_NAME) == f"{key_id}.example", f"{key_id}: subject {csr.subject}")
        check(subject.get(NameOID.COUNTRY_NAME) == "DE", f"{key_id}: subject {csr.subject}")
        check(subject.get(NameOID.ORGANIZATION_NAME) == "Strongroom", f"{key_id}: subject {csr.subject}")
        check(subject.get(NameOID.EMAIL_ADDRESS) == "keys@example.org", f"{key_id}: subject {csr.subject}")
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        check(san.get_values_for_type(x509.DNSName) == [f"{key_id}.example"], f"{key_id}: default SAN {san}")
        step(f"{key_id}: CSR signed by the key (pyca verifies), subject as asked, SAN the common name")
    # The spec: SANs are DNS names unless "IP:"; an empty list means no SAN extension.
    import ipaddress
    pem = admin.key_csr("csr-p256", common_name="c", subject_alt_names=["a.example", "IP:192.0.2.7"])
    san = x509.load_pem_x509_csr(pem.encode()).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    check(san.get_values_for_type(x509.DNSName) == ["a.example"], f"SAN DNS names {san}")
    check(san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("192.0.2.7")], f"SAN IPs {san}")
    pem = admin.key_csr("csr-p256", common_name="c", subject_alt_names=[])
    check(len(x509.load_pem_x509_csr(pem.encode()).extensions) == 0, "subjectAltNames [] still has a SAN")
    expect_status("csr of a missing key", lambda: admin.key_csr("missing", common_name="x"), 404)
    expect_status("csr with unknown credentials", lambda: s.client("nobody", "x").key_csr("csr-p256", common_name="x"), 401)
    step("csr: explicit DNS and IP SANs, no SAN for [], missing key 404, unknown user 401")


PARTS = {"keys": part_keys, "decrypt": part_decrypt, "aes": part_aes, "csr": part_csr}


def main():
    global part_name
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True, help="host:port of the server (Unprovisioned)")
    parser.add_argument("--fingerprint", required=True, help="its certificate's SHA-256 fingerprint")
    parser.add_argument("--ca-file", required=True, help="where to write the pinned certificate")
    parser.add_argument("part", choices=sorted(PARTS))
    args = parser.parse_args()
    part_name = args.part
    try:
        ca = pinned_ca_file(args.host, args.fingerprint, args.ca_file)
        step(f"nethsm client {getattr(nethsm, '__version__', '?')}; server {args.host}, certificate pinned")
        PARTS[args.part](Session(args.host, ca))
        step("all checks passed")
    except RouteMissing as e:
        print(f"nethsm keys {part_name}: MISSING after step {last_step!r}: {e}", file=sys.stderr, flush=True)
        sys.exit(3)
    except CheckFailed as e:
        fail(str(e))
    except (nethsm.NetHSMError, nethsm.NetHSMRequestError) as e:
        traceback.print_exc()
        fail(f"client error (HTTP {status_of(e)}): {e}")
    except Exception as e:
        traceback.print_exc()
        fail(f"unexpected {type(e).__name__}: {e}")


def fail(message):
    print(f"nethsm keys {part_name}: FAILED after step {last_step!r}: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Drives two fresh Strongroom servers with the real NetHSM Python client (`nethsm` on PyPI).

Usage: nethsm_client.py --a 127.0.0.1:PORT_A --b 127.0.0.1:PORT_B

Both servers must be freshly started and Unprovisioned. On A: provision, add an Operator,
draw random bytes, set the backup passphrase, add a Backup user and take a backup. On B:
restore that backup without credentials, check B is Locked, unlock it with A's unlock
passphrase and check A's users work there. Uses nothing but the `nethsm` package.

Exits 0 after printing "nethsm interop: all checks passed"; any failed check exits 1 with a
message naming the step.
"""

import argparse
import sys
import traceback
from datetime import datetime, timezone

import nethsm

UNLOCK = "interop unlock passphrase"
ADMIN = "interop admin passphrase"
OPERATOR_PASS = "interop operator passphrase"
BACKUP_USER_PASS = "interop backup user passphrase"
BACKUP_PASS = "interop backup passphrase"
TIME = datetime(2026, 11, 23, 12, 0, 0, tzinfo=timezone.utc)

OPERATOR = "operator1"
BACKUP_USER = "backup1"


class CheckFailed(Exception):
    pass


last_step = "start"


def step(message):
    """Reports a step done; a failure report names the last one."""
    global last_step
    last_step = message
    print(f"nethsm interop: {message}", flush=True)


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def client(host, user=None, password=None):
    auth = nethsm.Authentication(username=user, password=password) if user else None
    return nethsm.NetHSM(host, auth=auth, verify_tls=False)


def expect_error(what, fn, needle):
    """Runs fn, which must raise NetHSMError whose message contains `needle`."""
    try:
        fn()
    except nethsm.NetHSMError as e:
        check(needle in str(e), f"{what}: expected an error containing {needle!r}, got {e!r}")
        return str(e)
    raise CheckFailed(f"{what}: succeeded, expected an error containing {needle!r}")


def run(host_a, host_b):
    nethsm_version = getattr(nethsm, "__version__", "?")
    step(f"nethsm client {nethsm_version}; A = {host_a}, B = {host_b}")

    # --- A: provision -----------------------------------------------------------------------
    anon_a = client(host_a)
    state = anon_a.get_state()
    check(state == nethsm.State.UNPROVISIONED, f"A: state before provision is {state}")
    info = anon_a.get_info()
    step(f"A: info vendor={info.vendor!r} product={info.product!r}")
    anon_a.provision(UNLOCK, ADMIN, TIME)
    state = anon_a.get_state()
    check(state == nethsm.State.OPERATIONAL, f"A: state after provision is {state}")
    step("A: provisioned, Operational")

    admin_a = client(host_a, "admin", ADMIN)
    user_id = admin_a.add_user("Interop Operator", nethsm.Role.OPERATOR, OPERATOR_PASS, OPERATOR)
    check(user_id == OPERATOR, f"A: add_user returned {user_id!r}, expected {OPERATOR!r}")
    step(f"A: added Operator {OPERATOR}")

    # --- A: random ----------------------------------------------------------------------------
    operator_a = client(host_a, OPERATOR, OPERATOR_PASS)
    me = operator_a.get_user(OPERATOR)
    check(me.role == nethsm.Role.OPERATOR, f"A: operator sees its role as {me.role}")
    for n in (1, 32, 1024):
        data = operator_a.get_random_data(n).decode()
        check(len(data) == n, f"A: get_random_data({n}) decoded to {len(data)} bytes")
    first = operator_a.get_random_data(32).decode()
    second = operator_a.get_random_data(32).decode()
    check(first != second, "A: two draws of 32 random bytes are equal")
    step("A: operator got random data of 1, 32 and 1024 bytes")
    expect_error(
        "A: get_random_data as Administrator",
        lambda: admin_a.get_random_data(32),
        "Access denied",
    )
    step("A: Administrator refused random data (403)")

    # --- A: network and time (recorded, never applied to the host: docs/operations.md) ---------
    ipv6 = nethsm.Ipv6Config(cidr="fd00:abcd::40/64", gateway="fd00:abcd::1")
    admin_a.set_network_config("10.20.30.40", "255.255.255.0", "10.20.30.1", ipv6)
    net = admin_a.get_config_network()
    got = (net.ip_address, net.netmask, net.gateway)
    check(got == ("10.20.30.40", "255.255.255.0", "10.20.30.1"), f"A: network read back as {net}")
    check(net.ipv6 is not None and net.ipv6.cidr == "fd00:abcd::40/64", f"A: IPv6 read back as {net}")
    expect_error(
        "A: set_network_config with a bad address",
        lambda: admin_a.set_network_config("300.1.1.1", "255.255.255.0", "0.0.0.0"),
        "ipAddress must be an IPv4 address",
    )
    step("A: network configuration recorded and read back; a bad address refused (400)")
    later = datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    admin_a.set_time(later)
    seen = admin_a.get_config_time()
    check(abs((seen - later).total_seconds()) < 60, f"A: time read back as {seen}")
    admin_a.set_time(TIME)
    step("A: time set and read back")

    # --- A: backup ------------------------------------------------------------------------------
    admin_a.set_backup_passphrase(BACKUP_PASS, None)
    step("A: backup passphrase set")
    user_id = admin_a.add_user("Interop Backup", nethsm.Role.BACKUP, BACKUP_USER_PASS, BACKUP_USER)
    check(user_id == BACKUP_USER, f"A: add_user returned {user_id!r}, expected {BACKUP_USER!r}")
    step(f"A: added Backup user {BACKUP_USER}")
    backup_a = client(host_a, BACKUP_USER, BACKUP_USER_PASS)
    backup = backup_a.backup()
    check(isinstance(backup, bytes), f"A: backup returned {type(backup).__name__}, not bytes")
    check(len(backup) > 0, "A: backup is empty")
    for secret in (UNLOCK, ADMIN, OPERATOR_PASS, BACKUP_USER_PASS, BACKUP_PASS):
        check(secret.encode() not in backup, f"A: backup contains the passphrase {secret!r}")
    step(f"A: backup taken, {len(backup)} bytes")

    # --- B: restore -----------------------------------------------------------------------------
    anon_b = client(host_b)
    state = anon_b.get_state()
    check(state == nethsm.State.UNPROVISIONED, f"B: state before restore is {state}")
    expect_error(
        "B: restore with a wrong backup passphrase",
        lambda: anon_b.restore(backup, "not the backup passphrase", TIME),
        "backup did not apply",
    )
    state = anon_b.get_state()
    check(state == nethsm.State.UNPROVISIONED, f"B: state after a refused restore is {state}")
    step("B: restore with a wrong passphrase refused (400), still Unprovisioned")
    anon_b.restore(backup, BACKUP_PASS, TIME)
    state = anon_b.get_state()
    check(state == nethsm.State.LOCKED, f"B: state after restore is {state}, expected Locked")
    step("B: restored without credentials, Locked")
    anon_b.unlock(UNLOCK)
    state = anon_b.get_state()
    check(state == nethsm.State.OPERATIONAL, f"B: state after unlock is {state}")
    step("B: unlocked with A's unlock passphrase, Operational")

    # --- B: A's users -----------------------------------------------------------------------------
    operator_b = client(host_b, OPERATOR, OPERATOR_PASS)
    me = operator_b.get_user(OPERATOR)
    check(me.role == nethsm.Role.OPERATOR, f"B: operator sees its role as {me.role}")
    check(me.real_name == "Interop Operator", f"B: operator's real name is {me.real_name!r}")
    data = operator_b.get_random_data(32).decode()
    check(len(data) == 32, f"B: get_random_data(32) decoded to {len(data)} bytes")
    step("B: operator logs in and gets random data")
    admin_b = client(host_b, "admin", ADMIN)
    users = admin_b.list_users()
    for user in ("admin", OPERATOR, BACKUP_USER):
        check(user in users, f"B: list_users {users} lacks {user!r}")
    backup_user = admin_b.get_user(BACKUP_USER)
    check(backup_user.role == nethsm.Role.BACKUP, f"B: {BACKUP_USER} has role {backup_user.role}")
    step(f"B: admin lists users {sorted(users)}")

    step("all checks passed")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", required=True, help="host:port of server A (Unprovisioned)")
    parser.add_argument("--b", required=True, help="host:port of server B (Unprovisioned)")
    args = parser.parse_args()
    try:
        run(args.a, args.b)
    except CheckFailed as e:
        fail(f"{e}")
    except (nethsm.NetHSMError, nethsm.NetHSMRequestError) as e:
        traceback.print_exc()
        fail(f"client error: {e}")
    except Exception as e:
        traceback.print_exc()
        fail(f"unexpected {type(e).__name__}: {e}")


def fail(message):
    print(f"nethsm interop: FAILED after step {last_step!r}: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


if __name__ == "__main__":
    main()

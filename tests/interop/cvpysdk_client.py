#!/usr/bin/env python3
"""Drives a provisioned Strongroom server's backup-client face with the real Commvault Python SDK
(`cvpysdk` on PyPI).

Usage: cvpysdk_client.py --host 127.0.0.1:PORT --client-id N --user admin --password P

The server must be Operational and the client N registered (through Strongroom's admin API)
without a passkey; the company (CommCell) must have no passkey either. The script logs in
through `cvpysdk.commcell.Commcell`, finds the client, creates its passkey, checks a second
create is refused, authorizes restore for it (a wrong passkey first, refused), then runs the
CommCell-level `Commcell.passkey` actions (enable, authorize, unauthorize, change passkey, a
wrong passkey, disable) and logs out, checking the old token is dead.

It leaves the client with its passkey set and restore authorized, and the company without a
passkey, so the caller can check that the restore decision for the client is "authorized".

Exits 0 after printing "cvpysdk interop: all checks passed"; any failed check exits 1 with a
message naming the step.
"""

import argparse
import base64
import sys
import traceback

import requests
import urllib3
from cvpysdk.commcell import Commcell
from cvpysdk.exception import SDKException

CLIENT_PASSKEY = "interop client passkey"
COMPANY_PASSKEY = "interop company passkey"
COMPANY_PASSKEY_NEW = "interop company passkey, changed"
WRONG_PASSKEY = "not the passkey at all"

# Strongroom's stable passkey error codes (docs/errors.md).
ALREADY_SET = 587204608
WRONG = 587204607


class CheckFailed(Exception):
    pass


last_step = "start"


def step(message):
    """Reports a step done; a failure report names the last one."""
    global last_step
    last_step = message
    print(f"cvpysdk interop: {message}", flush=True)


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def b64(text):
    return base64.b64encode(text.encode()).decode()


def json_of(response, what):
    """The JSON body of a 200 response, or a failed check naming the request."""
    check(response is not None, f"{what}: no response")
    check(
        response.status_code == 200,
        f"{what}: HTTP {response.status_code}, body {response.text[:500]!r}",
    )
    try:
        return response.json()
    except ValueError:
        raise CheckFailed(f"{what}: body is not JSON: {response.text[:500]!r}") from None


def passkey_result(response, what):
    """(exitval, errorCode, errorMessage) of an App_SetPasskeyResponse in JSON."""
    body = json_of(response, what)
    error = body.get("error")
    check(isinstance(error, dict), f"{what}: no error object in {body!r}")
    check("errorCode" in error, f"{what}: no errorCode in {body!r}")
    attributes = (body.get("processinginstructioninfo") or {}).get("attributes") or []
    exitval = next((a.get("value") for a in attributes if a.get("name") == "exitval"), None)
    check(exitval is not None, f"{what}: no exitval attribute in {body!r}")
    check(
        str(exitval) == str(error["errorCode"]),
        f"{what}: exitval {exitval!r} differs from errorCode {error['errorCode']!r}",
    )
    return int(exitval), error["errorCode"], error.get("errorMessage")


def expect_passkey_ok(response, what):
    _, code, message = passkey_result(response, what)
    check(code == 0, f"{what}: errorCode {code} ({message!r}), expected 0")


def expect_passkey_error(response, what, expected_code):
    _, code, message = passkey_result(response, what)
    check(code != 0, f"{what}: succeeded (errorCode 0), expected an error")
    check(
        code == expected_code,
        f"{what}: errorCode {code} ({message!r}), expected {expected_code}",
    )
    check(bool(message), f"{what}: errorCode {code} without an errorMessage")
    return code, message


def expect_sdk_exception(what, fn):
    """Runs fn, which must raise SDKException; returns its message."""
    try:
        fn()
    except SDKException as e:
        return str(e)
    raise CheckFailed(f"{what}: succeeded, expected an SDKException")


class Recorder:
    """Wraps the SDK's `make_request` to keep the last request it sent and the answer, so a
    check can show what `Commcell.passkey` sent and what the server said."""

    def __init__(self, commcell):
        self.sdk = commcell._cvpysdk_object
        self.inner = self.sdk.make_request
        self.last = None
        self.sdk.make_request = self.make_request

    def make_request(self, method, url, payload=None, *args, **kwargs):
        flag, response = self.inner(method, url, payload, *args, **kwargs)
        self.last = (method, url, payload, response)
        return flag, response

    def describe(self):
        """`POST Company/0/Passkey EDIT` and the like; passkeys are not shown."""
        method, url, payload, _ = self.last
        path = url.split("/api/", 1)[-1]
        op = ""
        if isinstance(payload, dict):
            if "passkeyOpType" in payload:
                op = f" passkeyOpType={payload['passkeyOpType']}"
            elif "passkeySettings" in payload:
                enable = payload["passkeySettings"].get("enableAuthorizeForRestore")
                op = f" enableAuthorizeForRestore={enable}"
        return f"{method} {path}{op}"


def is_sdk_exception_defect(error):
    """cvpysdk 11.44's `Commcell.passkey` reports a refusal (`errorCode` != 0) with
    `SDKException('Commcell', '110', ...)`, but its EXCEPTION_DICT has no 'Commcell' '110'
    entry, so building that exception raises KeyError('110') from cvpysdk/exception.py."""
    if not (isinstance(error, KeyError) and error.args == ("110",)):
        return False
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and frames[-1].filename.replace("\\", "/").endswith("cvpysdk/exception.py")


def expect_passkey_refused(recorder, what, fn, expected_code):
    """Runs a `Commcell.passkey` call that the server must refuse with `expected_code`. The SDK
    must raise SDKException, or hit its known defect (see is_sdk_exception_defect) on the way;
    either way the answer it got must be that refusal."""
    recorder.last = None
    try:
        fn()
    except SDKException as e:
        raised = f"SDKException: {str(e).strip()}"
    except KeyError as e:
        if not is_sdk_exception_defect(e):
            raise
        raised = "KeyError('110') (cvpysdk 11.44 defect: no message for SDKException('Commcell', '110'))"
    else:
        raise CheckFailed(f"{what}: succeeded, expected the server to refuse it")
    check(recorder.last is not None, f"{what}: the SDK raised before sending anything")
    code, message = expect_passkey_error(recorder.last[3], what, expected_code)
    return f"{recorder.describe()} -> errorCode {code} ({message}); cvpysdk raised {raised}"


def passkey_ok(recorder, fn):
    """Runs a `Commcell.passkey` call that must succeed; returns what it sent."""
    recorder.last = None
    fn()
    check(recorder.last is not None, "Commcell.passkey sent nothing")
    expect_passkey_ok(recorder.last[3], recorder.describe())
    return recorder.describe()


def client_entity(commcell, client_id, what):
    body = json_of(commcell.request("GET", f"Client/{client_id}"), what)
    props = body.get("clientProperties")
    check(isinstance(props, list) and len(props) == 1, f"{what}: clientProperties {props!r}")
    return props[0]


def privacy_settings(commcell):
    body = json_of(commcell.request("GET", "Organization/0"), "GET Organization/0")
    try:
        settings = body["organizationInfo"]["organizationProperties"]["advancedPrivacySettings"]
    except (KeyError, TypeError):
        raise CheckFailed(f"GET Organization/0: no advancedPrivacySettings in {body!r}") from None
    check("authType" in settings, f"GET Organization/0: no authType in {settings!r}")
    return settings


def auth_type(commcell):
    return privacy_settings(commcell)["authType"]


def organization_until(commcell):
    return privacy_settings(commcell).get("authorizedForRestoreUntil")


def run(host, client_id, user, password):
    import cvpysdk

    version = getattr(cvpysdk, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version

        version = dist_version("cvpysdk")
    web_service_url = f"https://{host}/commandcenter/api"
    step(f"cvpysdk {version}; web service {web_service_url}")

    # --- login ------------------------------------------------------------------------------
    # With an https:// web_service_url the SDK uses it as given plus a trailing "/" (no http
    # fallback) and sends `Host: <netloc of that URL>`. The constructor GETs that root (it
    # must answer 200), then POSTs Login {mode 4, username, password (base64), deviceId,
    # clientType 30} and keeps the token for the Authtoken header; nothing else.
    commcell = Commcell(host, user, password, web_service_url=web_service_url, verify_ssl=False)
    token = commcell.auth_token
    check(
        isinstance(token, str) and token.startswith("QSDK "),
        f"login: token {token!r} does not start with 'QSDK '",
    )
    check(
        commcell.commcell_username == user,
        f"login: user is {commcell.commcell_username!r}, expected {user!r}",
    )
    step(f"logged in as {user} through Commcell(...)")
    who = commcell._cvpysdk_object.who_am_i()
    check(who == user, f"WhoAmI: {who!r}, expected {user!r}")
    step(f"WhoAmI says {who}")

    # --- the client -------------------------------------------------------------------------
    clients = json_of(commcell.request("GET", "Client"), "GET Client").get("clientProperties")
    check(isinstance(clients, list), f"GET Client: clientProperties is {clients!r}")
    ids = [c.get("client", {}).get("clientEntity", {}).get("clientId") for c in clients]
    check(client_id in ids, f"GET Client: client {client_id} not among {ids}")
    entity = client_entity(commcell, client_id, f"GET Client/{client_id}")["client"]["clientEntity"]
    for field in ("clientId", "clientName", "hostName", "displayName"):
        check(field in entity, f"GET Client/{client_id}: clientEntity lacks {field}: {entity!r}")
    step(f"client {client_id} is {entity['clientName']!r} on {entity['hostName']!r}")

    # --- client passkey: create, create again ---------------------------------------------------
    url = f"client/{client_id}/Passkey"
    create = {
        "App_SetPasskeyRequest": {
            "currentPasskey": "",
            "newPasskey": b64(CLIENT_PASSKEY),
            "confirmPasskey": b64(CLIENT_PASSKEY),
            "passkeyOpType": "CREATE",
        }
    }
    expect_passkey_ok(commcell.request("POST", url, create), f"POST {url} CREATE")
    props = client_entity(commcell, client_id, f"GET Client/{client_id} after CREATE")
    enabled = props.get("clientProps", {}).get("passkeySettings", {}).get("enabled")
    check(enabled is True, f"GET Client/{client_id} after CREATE: passkey enabled is {enabled!r}")
    step(f"client {client_id}: passkey created (errorCode 0)")

    code, message = expect_passkey_error(
        commcell.request("POST", url, create), f"POST {url} CREATE again", ALREADY_SET
    )
    step(f"client {client_id}: second CREATE refused with errorCode {code} ({message})")

    # --- client restore authorization -----------------------------------------------------------
    def authorize(passkey):
        return {
            "App_AuthorizeForRestoreRequest": {
                "passkey": b64(passkey),
                "passkeySettings": {
                    "enableAuthorizeForRestore": True,
                    "passkeyExpirationInterval": {"toTime": 1800},
                },
            }
        }

    code, message = expect_passkey_error(
        commcell.request("POST", url, authorize(WRONG_PASSKEY)),
        f"POST {url} authorize with a wrong passkey",
        WRONG,
    )
    props = client_entity(commcell, client_id, f"GET Client/{client_id} after a wrong passkey")
    until = props.get("clientProps", {}).get("passkeySettings", {}).get("authorizedForRestoreUntil")
    check(until is None, f"a wrong passkey authorized restore until {until!r}")
    step(f"client {client_id}: authorize with a wrong passkey refused with errorCode {code}")

    expect_passkey_ok(
        commcell.request("POST", url, authorize(CLIENT_PASSKEY)), f"POST {url} authorize"
    )
    props = client_entity(commcell, client_id, f"GET Client/{client_id} after authorize")
    until = props.get("clientProps", {}).get("passkeySettings", {}).get("authorizedForRestoreUntil")
    check(until, f"GET Client/{client_id} after authorize: no authorizedForRestoreUntil in {props!r}")
    step(f"client {client_id}: restore authorized until {until}")

    # --- CommCell (company 0) passkey through Commcell.passkey ---------------------------------
    rec = Recorder(commcell)
    check(auth_type(commcell) == 1, f"Organization/0 authType before enable is {auth_type(commcell)}")
    sent = passkey_ok(rec, lambda: commcell.passkey(COMPANY_PASSKEY, "enable"))
    check(auth_type(commcell) == 2, f"Organization/0 authType after enable is {auth_type(commcell)}")
    step(f"CommCell: passkey enabled ({sent}); Organization/0 authType 2")

    outcome = expect_passkey_refused(
        rec,
        "CommCell: enable again",
        lambda: commcell.passkey(COMPANY_PASSKEY, "enable"),
        ALREADY_SET,
    )
    step(f"CommCell: enable again refused: {outcome}")

    sent = passkey_ok(rec, lambda: commcell.passkey(COMPANY_PASSKEY, "authorize"))
    until = organization_until(commcell)
    check(until, "Organization/0: no authorizedForRestoreUntil after authorize")
    step(f"CommCell: restore authorized until {until} ({sent})")
    sent = passkey_ok(rec, lambda: commcell.passkey(COMPANY_PASSKEY, "unauthorize"))
    until = organization_until(commcell)
    check(until is None, f"Organization/0: authorized until {until} after unauthorize")
    step(f"CommCell: restore authorization withdrawn ({sent})")

    outcome = expect_passkey_refused(
        rec,
        "CommCell: authorize with a wrong passkey",
        lambda: commcell.passkey(WRONG_PASSKEY, "authorize"),
        WRONG,
    )
    check(organization_until(commcell) is None, "a wrong passkey authorized the CommCell")
    step(f"CommCell: authorize with a wrong passkey refused: {outcome}")

    sent = passkey_ok(
        rec,
        lambda: commcell.passkey(COMPANY_PASSKEY, "change passkey", new_password=COMPANY_PASSKEY_NEW),
    )
    step(f"CommCell: passkey changed ({sent})")
    outcome = expect_passkey_refused(
        rec,
        "CommCell: disable with the old passkey",
        lambda: commcell.passkey(COMPANY_PASSKEY, "disable"),
        WRONG,
    )
    check(auth_type(commcell) == 2, "CommCell: passkey gone after a refused disable")
    step(f"CommCell: disable with the old passkey refused: {outcome}")
    sent = passkey_ok(rec, lambda: commcell.passkey(COMPANY_PASSKEY_NEW, "authorize"))
    check(organization_until(commcell), "Organization/0: not authorized with the new passkey")
    step(f"CommCell: restore authorized with the new passkey ({sent})")
    sent = passkey_ok(rec, lambda: commcell.passkey(COMPANY_PASSKEY_NEW, "disable"))
    check(auth_type(commcell) == 1, f"Organization/0 authType after disable is {auth_type(commcell)}")
    check(organization_until(commcell) is None, "Organization/0: authorized after disable")
    step(f"CommCell: passkey disabled with the new passkey ({sent}); Organization/0 authType 1")

    # The client keeps its own passkey and authorization through all this.
    props = client_entity(commcell, client_id, f"GET Client/{client_id} at the end")
    settings = props.get("clientProps", {}).get("passkeySettings", {})
    check(settings.get("enabled") is True, f"client {client_id} passkey at the end: {settings!r}")
    check(settings.get("authorizedForRestoreUntil"), f"client {client_id} at the end: {settings!r}")
    step(f"client {client_id}: still has its passkey and is authorized")

    # --- logout -----------------------------------------------------------------------------------
    old_token = commcell.auth_token
    output = commcell.logout()
    check(output == "User logged out", f"logout answered {output!r}")
    step(f"logged out: {output!r}")

    response = requests.post(
        f"{web_service_url}/WhoAmI",
        headers={"Accept": "application/json", "Authtoken": old_token},
        verify=False,
        timeout=30,
    )
    check(
        response.status_code == 401,
        f"WhoAmI with the old token: HTTP {response.status_code} {response.text[:300]!r}, "
        "expected 401",
    )
    response = requests.get(
        f"{web_service_url}/Client/{client_id}",
        headers={"Accept": "application/json", "Authtoken": old_token},
        verify=False,
        timeout=30,
    )
    check(
        response.status_code == 401,
        f"GET Client/{client_id} with the old token: HTTP {response.status_code}, expected 401",
    )
    step("the old token is refused (401)")
    message = expect_sdk_exception(
        "Commcell(authtoken=<old token>)",
        lambda: Commcell(
            host, authtoken=old_token, web_service_url=web_service_url, verify_ssl=False
        ),
    )
    step(f"Commcell(authtoken=<old token>) raised SDKException: {message}")

    step("all checks passed")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True, help="host:port of the server (Operational)")
    parser.add_argument("--client-id", required=True, type=int, help="a registered client's id")
    parser.add_argument("--user", required=True, help="a root Administrator's user id")
    parser.add_argument("--password", required=True, help="that user's passphrase")
    args = parser.parse_args()
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    try:
        run(args.host, args.client_id, args.user, args.password)
    except CheckFailed as e:
        fail(f"{e}")
    except SDKException as e:
        traceback.print_exc()
        fail(f"cvpysdk raised SDKException: {e}")
    except Exception as e:
        traceback.print_exc()
        fail(f"unexpected {type(e).__name__}: {e}")


def fail(message):
    print(f"cvpysdk interop: FAILED after step {last_step!r}: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


if __name__ == "__main__":
    main()

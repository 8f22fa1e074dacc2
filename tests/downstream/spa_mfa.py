"""A single-page app's second factor against a running Gatehouse, as the seeds' SPAs would
drive it, with pyotp computing the codes (an authenticator app that knows nothing of
Gatehouse):

1. POST /api/token/ with the password -> the pair (no factor yet);
2. POST /api/account/totp/ with the bearer access token and the password -> secret, URI;
3. POST /api/account/totp/confirm/ with pyotp's code -> ten recovery codes;
4. POST /api/token/ again -> 401 mfa_required with an mfa_token (no tokens);
5. POST /api/token/mfa/ with the mfa_token and pyotp's code of the next step -> the pair;
   the same code again -> refused; a recovery code with a new mfa_token -> the pair;
6. DELETE /api/account/totp/ with the password -> the password alone signs in again.

Reads {"base": "http://127.0.0.1:PORT", "username", "password"} on stdin; prints one JSON
object with what it saw; exits non-zero on the first surprise."""

import json
import sys
import time

import pyotp
import requests

cfg = json.load(sys.stdin)
base, username, password = cfg["base"], cfg["username"], cfg["password"]
seen = {}


def expect(resp, status, what):
    if resp.status_code != status:
        sys.exit(f"{what}: expected {status}, got {resp.status_code}: {resp.text}")
    return resp.json()


pair = expect(
    requests.post(f"{base}/api/token/", json={"username": username, "password": password}),
    200,
    "password sign-in before enrolment",
)
bearer = {"Authorization": f"Bearer {pair['access']}"}

started = expect(
    requests.post(f"{base}/api/account/totp/", json={"password": password}, headers=bearer),
    200,
    "start enrolment",
)
uri = pyotp.parse_uri(started["otpauth_uri"])
if uri.secret != started["secret"] or uri.digits != 6 or uri.interval != 30:
    sys.exit(f"the URI and the secret disagree: {started['otpauth_uri']}")
totp = pyotp.TOTP(started["secret"])

confirmed = expect(
    requests.post(f"{base}/api/account/totp/confirm/", json={"code": totp.now()}, headers=bearer),
    200,
    "confirm enrolment",
)
codes = confirmed["recovery_codes"]
seen["recovery_codes"] = len(codes)

refused = requests.post(f"{base}/api/token/", json={"username": username, "password": password})
body = expect(refused, 401, "password alone after enrolment")
if body.get("code") != "mfa_required" or "access" in body:
    sys.exit(f"expected mfa_required without tokens: {body}")
seen["methods"] = body["methods"]

# The code used to confirm is spent: wait for the next step, as a user would.
time.sleep(30 - time.time() % 30 + 0.5)
code = totp.now()
pair = expect(
    requests.post(f"{base}/api/token/mfa/", json={"mfa_token": body["mfa_token"], "code": code}),
    200,
    "second factor",
)
seen["pair"] = sorted(pair)

again = requests.post(f"{base}/api/token/", json={"username": username, "password": password}).json()
replay = requests.post(f"{base}/api/token/mfa/", json={"mfa_token": again["mfa_token"], "code": code})
seen["replayed_code"] = [replay.status_code, replay.json().get("code")]

recovered = expect(
    requests.post(f"{base}/api/token/mfa/", json={"mfa_token": again["mfa_token"], "code": codes[0]}),
    200,
    "recovery code",
)
bearer = {"Authorization": f"Bearer {recovered['access']}"}
expect(
    requests.delete(f"{base}/api/account/totp/", json={"password": password}, headers=bearer),
    200,
    "remove",
)
expect(
    requests.post(f"{base}/api/token/", json={"username": username, "password": password}),
    200,
    "password sign-in after removal",
)
seen["removed"] = True
print(json.dumps(seen))

"""The sign-ins of benches/login-mfa.sh: URL USERS ROUNDS PID. Enrols an authenticator app for
users totp1..N through the single-page app's API, then times rounds of sign-ins of plain1..N
(password only) and totp1..N (password, then the code), 8 at a time."""

import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pyotp
import requests

URL, USERS, ROUNDS, PID = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
PARALLEL = 8


def password(i):
    return f"bench-password-{i}"


def post(session, path, body, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return session.post(URL + path, json=body, headers=headers, timeout=60)


def enrol(i):
    s = requests.Session()
    pair = post(s, "/api/token/", {"username": f"totp{i}", "password": password(i)}).json()
    started = post(s, "/api/account/totp/", {"password": password(i)}, pair["access"]).json()
    secret = started["secret"]
    code = pyotp.TOTP(secret).now()
    done = post(s, "/api/account/totp/confirm/", {"code": code}, pair["access"])
    assert done.status_code == 200, done.text
    return secret


def sign_in_plain(i):
    s = requests.Session()
    t = time.perf_counter()
    r = post(s, "/api/token/", {"username": f"plain{i}", "password": password(i)})
    assert r.status_code == 200, r.text
    return time.perf_counter() - t


def sign_in_totp(i, secret):
    s = requests.Session()
    t = time.perf_counter()
    r = post(s, "/api/token/", {"username": f"totp{i}", "password": password(i)})
    assert r.status_code == 401 and r.json()["code"] == "mfa_required", r.text
    code = pyotp.TOTP(secret).now()
    r = post(s, "/api/token/mfa/", {"mfa_token": r.json()["mfa_token"], "code": code})
    assert r.status_code == 200, r.text
    return time.perf_counter() - t


def cpu_seconds():
    """The server's CPU time so far (user + system), from /proc."""
    with open(f"/proc/{PID}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_fresh_step():
    """Until a new 30 s step starts: each user's code of this step is spent."""
    step = int(time.time()) // 30
    while int(time.time()) // 30 == step:
        time.sleep(0.2)
    time.sleep(0.5)


def run(kind, work):
    before = cpu_seconds()
    started = time.perf_counter()
    with ThreadPoolExecutor(PARALLEL) as pool:
        took = list(pool.map(lambda f: f(), work))
    seconds = time.perf_counter() - started
    took.sort()
    return {
        "kind": kind,
        "sign_ins": len(took),
        "seconds": round(seconds, 3),
        "per_second": round(len(took) / seconds, 1),
        "p50_ms": round(statistics.median(took) * 1000, 1),
        "p99_ms": round(took[min(len(took) - 1, int(len(took) * 0.99))] * 1000, 1),
        "server_cpu_ms_per_sign_in": round((cpu_seconds() - before) * 1000 / len(took), 1),
    }


with ThreadPoolExecutor(PARALLEL) as pool:
    secrets = list(pool.map(enrol, range(1, USERS + 1)))
for r in range(1, ROUNDS + 1):
    wait_for_fresh_step()
    plain = [lambda i=i: sign_in_plain(i) for i in range(1, USERS + 1)]
    totp = [lambda i=i, s=s: sign_in_totp(i, s) for i, s in zip(range(1, USERS + 1), secrets)]
    order = [("password", plain), ("password+totp", totp)]
    if r % 2 == 0:
        order.reverse()
    for kind, work in order:
        print(json.dumps({"round": r, **run(kind, work)}), flush=True)

"""The SMTP server of the mail tests: aiosmtpd on 127.0.0.1:PORT, writing every message it
accepts to DIR as NNNN.eml (the bytes received) and NNNN.json (the envelope, the headers
and the decoded text and HTML parts, as Python's email package reads them), each written
to a temporary name, then renamed, so a reader never sees half a message.

While the file DIR/refuse exists, every RCPT TO is answered with its content as the reply
(e.g. "451 4.3.0 try again later", or "550 5.1.1 no such user"). The tests make the server
vanish by killing the process, and come back by starting it again on the same port.

With TLS=starttls or TLS=smtps (and CERT, KEY: PEM files), the server offers STARTTLS and
requires it before MAIL, or speaks TLS from the first byte; with USER:PASSWORD it also
requires AUTH (only over TLS) with exactly those credentials. Each message's JSON then
says whether it came over TLS and who authenticated.

Usage: smtp_sink.py PORT DIR [TLS CERT KEY [USER:PASSWORD]]
"""

import asyncio
import email
import email.policy
import itertools
import json
import os
import signal
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Sink:
    def __init__(self, directory):
        self.directory = directory
        existing = [n for n in os.listdir(directory) if n.endswith(".eml")]
        self.counter = itertools.count(len(existing) + 1)

    def refusal(self):
        try:
            with open(os.path.join(self.directory, "refuse")) as f:
                return f.read().strip() or "451 4.3.0 try again later"
        except FileNotFoundError:
            return None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refusal = self.refusal()
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(self.counter)
        path = os.path.join(self.directory, f"{n:04}.eml")
        with open(path + ".tmp", "wb") as f:
            f.write(f"X-Envelope-From: {envelope.mail_from}\r\n".encode())
            for rcpt in envelope.rcpt_tos:
                f.write(f"X-Envelope-To: {rcpt}\r\n".encode())
            f.write(envelope.original_content)
        os.rename(path + ".tmp", path)
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        parts = {}
        for part in message.walk():
            if part.get_content_type() in ("text/plain", "text/html") and not part.is_multipart():
                parts[part.get_content_type()] = part.get_content()
        summary = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "headers": [[k, str(v)] for k, v in message.items()],
            "content_type": message.get_content_type(),
            "text": parts.get("text/plain"),
            "html": parts.get("text/html"),
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "authenticated_as": session.auth_data if session.authenticated else None,
        }
        with open(path[:-4] + ".json.tmp", "w") as f:
            json.dump(summary, f)
        os.rename(path[:-4] + ".json.tmp", path[:-4] + ".json")
        return "250 Message accepted for delivery"


def authenticator(expected):
    def check(server, session, envelope, mechanism, auth_data):
        given = f"{auth_data.login.decode()}:{auth_data.password.decode()}"
        return AuthResult(
            success=given == expected, handled=False, auth_data=auth_data.login.decode()
        )

    return check


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    options = {}
    if len(sys.argv) > 3:
        mode, cert, key = sys.argv[3], sys.argv[4], sys.argv[5]
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        if mode == "smtps":
            options["ssl_context"] = context
        else:
            options["tls_context"] = context
            options["require_starttls"] = True
        if len(sys.argv) > 6:
            options["authenticator"] = authenticator(sys.argv[6])
            options["auth_required"] = True
            options["auth_require_tls"] = True
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port, **options)
    controller.start()
    print(f"listening on 127.0.0.1:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()


if __name__ == "__main__":
    main()

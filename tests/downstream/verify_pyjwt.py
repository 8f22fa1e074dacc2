"""PyJWT with PyJWKClient, as a Python service verifies Gatehouse's access tokens.

Reads {"algorithm", "jwks_url", "issuer", "audience", "tokens": [...]} on stdin (the
algorithm the service is configured for: RS256, ES256 or EdDSA) and prints one verdict per
token as JSON: {"ok": true, "user_id": ...} or {"ok": false, "error": "..."}."""

import json
import sys

import jwt
from jwt import PyJWKClient


def main() -> None:
    request = json.load(sys.stdin)
    jwks = PyJWKClient(request["jwks_url"])
    verdicts = []
    for token in request["tokens"]:
        try:
            # RFC 9068: an access token says so in its header.
            if jwt.get_unverified_header(token).get("typ", "").lower() != "at+jwt":
                raise jwt.InvalidTokenError("typ is not at+jwt")
            key = jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[request.get("algorithm", "RS256")],
                issuer=request["issuer"],
                audience=request["audience"],
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
            verdicts.append({"ok": True, "user_id": claims.get("user_id")})
        except Exception as e:  # every refusal is a verdict, not a crash
            verdicts.append({"ok": False, "error": f"{type(e).__name__}: {e}"})
    json.dump(verdicts, sys.stdout)


if __name__ == "__main__":
    main()

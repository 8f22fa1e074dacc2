"""A Django REST Framework view behind simplejwt's JWTStatelessUserAuthentication,
configured for Gatehouse by settings alone (the SIMPLE_JWT block is the README's).

Reads {"algorithm", "jwks_url", "issuer", "audience", "tokens": [...]} on stdin (ALGORITHM:
RS256 by default, or ES256), calls the view once per
token with `Authorization: Bearer <token>` through Django's test client, and prints one
verdict per token as JSON: {"ok": true, "user_id": ...} or {"ok": false, "error": "..."}."""

import json
import sys

import django
from django.conf import settings

request = json.load(sys.stdin)
settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["testserver"],
    SECRET_KEY="only-for-this-test",
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "rest_framework",
    ],
    DATABASES={},
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "rest_framework_simplejwt.authentication.JWTStatelessUserAuthentication",
        ],
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    },
    SIMPLE_JWT={
        "ALGORITHM": request.get("algorithm", "RS256"),
        "JWK_URL": request["jwks_url"],
        "ISSUER": request["issuer"],
        "AUDIENCE": request["audience"],
        "USER_ID_CLAIM": "user_id",
        "TOKEN_TYPE_CLAIM": "token_type",
        "VERIFYING_KEY": None,
        "SIGNING_KEY": None,
    },
)
django.setup()

from django.test import Client  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.decorators import api_view  # noqa: E402
from rest_framework.response import Response  # noqa: E402


@api_view(["GET"])
def whoami(request):
    # TokenUser: the user the token names, without a database.
    return Response({"user_id": request.user.id})


urlpatterns = [path("whoami/", whoami)]


def main() -> None:
    client = Client()
    verdicts = []
    for token in request["tokens"]:
        resp = client.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}")
        body = resp.json()
        if resp.status_code == 200:
            verdicts.append({"ok": True, "user_id": body["user_id"]})
        else:
            verdicts.append({"ok": False, "error": f"{resp.status_code}: {body}"})
    json.dump(verdicts, sys.stdout)


main()

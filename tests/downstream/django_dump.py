"""A throwaway Django project in DIR (argv[1]) whose users are hashed by Django's own
hashers at their default work factors, dumped with `manage.py dumpdata auth.user` to
DIR/dump.json: the file `gatehouse user import` reads in tests/system/django_import.rs."""

import subprocess
import sys
from pathlib import Path

HASHERS = """
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
]
"""

USERS = """
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User

# A deleted user leaves a gap: primary keys are not row numbers.
User.objects.create_user("temp", password="temp").delete()
User.objects.create_superuser("ada", "ada@example.com", "ada's Django password")
for name, hasher, staff in [("brian", "argon2", True), ("chidi", "bcrypt_sha256", False),
                            ("dora", "pbkdf2_sha1", False)]:
    user = User.objects.create_user(name, f"{name}@example.com", is_staff=staff)
    user.password = make_password(f"{name}'s Django password", hasher=hasher)
    user.save()
User.objects.create_user("eli", password="eli's Django password", is_active=False)
User.objects.create_user("gus")  # no password: Django stores an unusable one
"""


def main() -> None:
    root = Path(sys.argv[1])
    py = sys.executable
    subprocess.run([py, "-m", "django", "startproject", "legacy", str(root)], check=True)
    settings = root / "legacy" / "settings.py"
    settings.write_text(settings.read_text() + HASHERS)
    manage = [py, str(root / "manage.py")]
    run = lambda *args: subprocess.run(manage + list(args), check=True, cwd=root)
    run("migrate", "--noinput", "--verbosity", "0")
    run("shell", "--command", USERS)
    run("dumpdata", "auth.user", "--indent", "2", "--output", str(root / "dump.json"))


if __name__ == "__main__":
    main()

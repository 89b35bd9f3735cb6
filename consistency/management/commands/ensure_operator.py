import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

OPERATORS_GROUP = "Operators"


class Command(BaseCommand):
    help = (
        "Make sure an operator account exists: create it (superuser, in the Operators group) with a "
        "generated password printed once, or keep the existing one and its password."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="operator", help="account name (default: operator)")
        parser.add_argument("--email", default="", help="email address of a new account")

    @transaction.atomic
    def handle(self, *args, username, email, **options):
        if not username.strip():
            raise CommandError("--username must not be empty")
        User = get_user_model()
        operators, _ = Group.objects.get_or_create(name=OPERATORS_GROUP)
        user = User.objects.filter(username=username).first()

        if user is not None:
            user.groups.add(operators)
            self.stdout.write(
                f"Operator account {username!r} exists; its password is unchanged "
                f"(python manage.py changepassword {username} sets a new one)."
            )
            return

        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=username, email=email, password=password)
        user.groups.add(operators)
        self.stdout.write(
            "\n".join(
                [
                    f"Created operator account {username!r} (superuser, group {OPERATORS_GROUP}).",
                    f"  username: {username}",
                    f"  password: {password}",
                    "This password is shown only this once: keep it, or set another with "
                    f"python manage.py changepassword {username}.",
                ]
            )
        )

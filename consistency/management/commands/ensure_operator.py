import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from consistency.models import AuditAction
from consistency.models.audit import cli_actor_name, record

OPERATORS_GROUP = "Operators"


class Command(BaseCommand):
    help = (
        "Make sure an operator account exists. With --username, that account (created with a generated "
        "password printed once, or kept with its password); without it, the existing operators are kept, "
        "or a first one named operator-<random> is created. Staff in the Operators group; a superuser only "
        "with --superuser."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--username", help="account name (default: keep an existing operator, or operator-<random>)"
        )
        parser.add_argument("--email", default="", help="email address of a new account")
        parser.add_argument(
            "--superuser",
            action="store_true",
            help="make a new account a superuser (it may then install the safety net)",
        )

    @transaction.atomic
    def handle(self, *args, username, email, superuser, **options):
        if username is not None and not username.strip():
            raise CommandError("--username must not be empty")
        User = get_user_model()
        operators, _ = Group.objects.get_or_create(name=OPERATORS_GROUP)

        if username is None:
            existing = list(operators.user_set.order_by("username").values_list("username", flat=True)[:5])
            if existing:
                self.stdout.write(f"Operator accounts exist ({', '.join(existing)}); nothing was changed.")
                return
            # A name nobody can guess, so the first account is not an obvious target.
            username = f"operator-{secrets.token_hex(3)}"

        user = User.objects.filter(username=username).first()
        if user is not None:
            user.groups.add(operators)
            self.stdout.write(
                f"Operator account {username!r} exists; its password is unchanged "
                f"(python manage.py changepassword {username} sets a new one)."
            )
            return

        password = secrets.token_urlsafe(12)
        create = User.objects.create_superuser if superuser else User.objects.create_user
        user = create(username=username, email=email, password=password, is_staff=True)
        user.groups.add(operators)
        record(None, AuditAction.CREATE_ACCOUNT, username, actor_name=cli_actor_name(), superuser=superuser)
        kind = "superuser" if superuser else "staff"
        self.stdout.write(
            "\n".join(
                [
                    f"Created operator account {username!r} ({kind}, group {OPERATORS_GROUP}).",
                    f"  username: {username}",
                    f"  password: {password}",
                    "This password is shown only this once: keep it, or set another with "
                    f"python manage.py changepassword {username}.",
                ]
            )
        )

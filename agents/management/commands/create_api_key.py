"""manage.py create_api_key <username> [--name NAME]: print a new /v1 API key once."""

from django.core.management.base import BaseCommand, CommandError

from agents.errors import DomainError
from agents.models import User
from agents.services.accounts import apikey_create


class Command(BaseCommand):
    help = "Create an API key for a user and print its secret (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="A label to recognise the key by.")

    def handle(self, *args, username: str, name: str, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        try:
            key, secret = apikey_create(user=user, name=name)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stderr.write(
            f"Created key {key.prefix}… for {username}. Store it now: it is not shown again."
        )
        self.stdout.write(secret)

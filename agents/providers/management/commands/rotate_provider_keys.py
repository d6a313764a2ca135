"""Re-encrypt every stored provider secret with the current ADE_ENCRYPTION_KEY,
after the old key was listed in ADE_ENCRYPTION_OLD_KEYS. Afterwards the old
key can be dropped from that list."""

from django.core.management.base import BaseCommand
from django.db import transaction

from agents.providers import crypto
from agents.providers.models import Provider


class Command(BaseCommand):
    help = "Re-encrypt stored provider API keys with the current ADE_ENCRYPTION_KEY."

    def handle(self, *args, **options):
        done, unreadable = 0, []
        with transaction.atomic():
            for row in Provider.objects.select_for_update().order_by("id"):
                try:
                    api_key, access_key = (
                        crypto.rotate(row.api_key_enc),
                        crypto.rotate(row.access_key_enc),
                    )
                except crypto.SecretUnreadable:
                    unreadable.append(row.name)
                    continue
                # A queryset update: the secret is the same, so updated_at stays.
                Provider.objects.filter(pk=row.pk).update(
                    api_key_enc=api_key, access_key_enc=access_key
                )
                done += 1
        self.stdout.write(f"Re-encrypted the keys of {done} provider(s).")
        if unreadable:
            self.stderr.write(
                "Not readable with any configured key (set their api_key again): "
                + ", ".join(unreadable)
            )

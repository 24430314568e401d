"""First-start set-up run by `make run`: the sample market data, the demo trader and,
with the ``demo_enabled`` setting on, the demo trader's models and running paper
bot (``apps.system.demo``).

The password comes from DEMO_USER_PASSWORD, or is generated and printed once, when
the account is created. Run again, it changes nothing.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.accounts.models import User
from apps.accounts.services import sign_up


class Command(BaseCommand):
    help = "Load the sample candles and create the demo trader on first start (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--no-demo",
            action="store_true",
            help="Create the demo account but not its models and bot (benchmarks).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from apps.market.sample_data import load_sample_data

        for line in load_sample_data():
            self.stdout.write(f"Sample data loaded: {line}")
        user = self.create_demo_user()
        if user is not None and not options["no_demo"]:
            self.create_demo(user)

    def create_demo(self, user: User) -> None:
        from apps.system.demo import set_up_demo

        result = set_up_demo(user=user)
        if result.created:
            names = ", ".join(m.name for m in result.models)
            self.stdout.write(
                self.style.SUCCESS("Demo set up: ")
                + f"{names} queued for training; {result.bot.name} running."
            )
        else:
            self.stdout.write(f"Demo not set up: {result.reason}.")

    def create_demo_user(self) -> User | None:
        email = settings.DEMO_USER_EMAIL
        if not email:
            return None
        existing = User.objects.filter(email__iexact=email).first()
        if existing is not None:
            self.stdout.write(f"Demo trader {email} exists.")
            return existing
        password = settings.DEMO_USER_PASSWORD or secrets.token_urlsafe(12)
        user = sign_up(email=email, password=password, display_name="Demo trader")
        self.stdout.write(self.style.SUCCESS("Demo trader account created:"))
        self.stdout.write(f"    email:    {email}")
        if settings.DEMO_USER_PASSWORD:
            self.stdout.write("    password: (from DEMO_USER_PASSWORD)")
        else:
            self.stdout.write(f"    password: {password}   <- shown only this once")
        return user

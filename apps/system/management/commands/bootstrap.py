"""First-start set-up run by `make run`: the sample market data and the demo trader.

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

    def handle(self, *args: Any, **options: Any) -> None:
        from apps.market.sample_data import load_sample_data

        for line in load_sample_data():
            self.stdout.write(f"Sample data loaded: {line}")
        self.create_demo_user()

    def create_demo_user(self) -> None:
        email = settings.DEMO_USER_EMAIL
        if not email:
            return
        if User.objects.filter(email__iexact=email).exists():
            self.stdout.write(f"Demo trader {email} exists.")
            return
        password = settings.DEMO_USER_PASSWORD or secrets.token_urlsafe(12)
        sign_up(email=email, password=password, display_name="Demo trader")
        self.stdout.write(self.style.SUCCESS("Demo trader account created:"))
        self.stdout.write(f"    email:    {email}")
        if settings.DEMO_USER_PASSWORD:
            self.stdout.write("    password: (from DEMO_USER_PASSWORD)")
        else:
            self.stdout.write(f"    password: {password}   <- shown only this once")

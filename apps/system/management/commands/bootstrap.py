"""First-start set-up run by `make run`: the demo trader account.

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
    help = "Create the demo trader account on first start (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
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

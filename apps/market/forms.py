from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from .models import TIMEFRAMES
from .services import MarketDataError, parse_symbol


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="CSV: CryptoDataDownload, exchange klines, or a wide multi-asset file."
    )
    symbol = forms.CharField(max_length=32, initial="BTC-USD", help_text="BASE-QUOTE")
    timeframe = forms.ChoiceField(choices=[(t, t) for t in TIMEFRAMES], initial="1h")
    asset = forms.CharField(
        max_length=16,
        required=False,
        label="Column prefix (wide files)",
        help_text="e.g. ETH for ETH:open,... Default: the symbol's base.",
    )
    skip_bad_rows = forms.BooleanField(
        required=False,
        label="Skip bad rows",
        help_text="Write the good rows; bad ones are listed and skipped.",
    )
    shared = forms.BooleanField(required=False, label="Shared market data (admins)")

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if user is None or user.role != "admin":
            del self.fields["shared"]

    def clean_symbol(self) -> str:
        try:
            return parse_symbol(self.cleaned_data["symbol"])[0]
        except MarketDataError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > settings.MARKET_IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {settings.MARKET_IMPORT_MAX_BYTES // 1_000_000} MB."
            )
        return upload

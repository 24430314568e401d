"""``python -m apps.backtests.engine FILE.csv --strategy sma_cross``."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())

"""manage.py backtest: metrics printed, --json, clear errors."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from apps.backtests import services

pytestmark = pytest.mark.django_db
ARGS = ["--symbol", "BTC-USD", "--timeframe", "1h", "--strategy", "sma_cross"]


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("backtest", *args, stdout=out)
    return out.getvalue()


def test_prints_the_metrics(btc: Any) -> None:
    text = run(*ARGS, "--param", "fast=5", "--param", "slow=20", "--fee-bps", "10")
    assert "sma_cross (fast=5, slow=20, allow_short=False) on BTC-USD 1h" in text
    assert "total_return" in text and "sharpe" in text and "trade_count" in text


def test_json_equals_the_service_computation(btc: Any) -> None:
    body = json.loads(
        run(
            *ARGS,
            "--param",
            "fast=5",
            "--param",
            "slow=20",
            "--start",
            "2019-01-02",
            "--end",
            "2019-01-10",
            "--json",
        )
    )
    job = services.check_request(
        owner=None,
        req=services.JobRequest(
            symbol="BTC-USD",
            timeframe="1h",
            strategy="sma_cross",
            params={"fast": 5, "slow": 20},
            start=datetime(2019, 1, 2, tzinfo=UTC),
            end=datetime(2019, 1, 10, tzinfo=UTC),
        ),
    )
    data = services.load_ohlcv(job.asset, "1h", job.start, job.end)
    result, metrics = services.compute_backtest(
        data=data,
        strategy=job.strategy,
        params=job.params,
        config=job.config,
        timeframe="1h",
    )
    assert body["metrics"] == metrics
    assert body["trades"] == result.trades.to_records()
    assert len(body["equity"]) == 8 * 24


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--param", "fast=50", "--param", "slow=20"], "fast: must be < slow"),
        (["--param", "speed=5"], "unknown parameter"),
        (["--param", "fast"], "use name=value"),
        (["--param", "fast=abc"], "must be a number"),
        (["--start", "2019-02-01", "--end", "2019-01-01"], "after the start"),
        (["--start", "yesterday"], "not an ISO date"),
        (["--start", "2010-01-01", "--end", "2010-02-01"], "at least 2 are needed"),
    ],
)
def test_bad_input_is_a_command_error(btc: Any, extra: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run(*ARGS, *extra)


def test_unknown_symbol_and_user(btc: Any) -> None:
    with pytest.raises(CommandError, match="No market data for 'DOGE-USD'"):
        run("--symbol", "DOGE-USD", "--timeframe", "1h", "--strategy", "sma_cross")
    with pytest.raises(CommandError, match="no user"):
        run(*ARGS, "--user", "nobody@example.com")

"""``manage.py backtest``: one backtest on stored candles, printed, not stored."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.accounts.models import User
from apps.backtests import services
from apps.backtests.strategies import STRATEGIES
from apps.market.models import TIMEFRAMES

HEADLINE = [
    ("bars", "{:,}"),
    ("initial_capital", "{:,.2f}"),
    ("final_equity", "{:,.2f}"),
    ("total_return", "{:+.2%}"),
    ("benchmark_return", "{:+.2%}"),
    ("cagr", "{:+.2%}"),
    ("sharpe", "{:.3f}"),
    ("sortino", "{:.3f}"),
    ("volatility", "{:.2%}"),
    ("max_drawdown", "{:.2%}"),
    ("calmar", "{:.3f}"),
    ("trade_count", "{:,}"),
    ("win_rate", "{:.2%}"),
    ("profit_factor", "{:.3f}"),
    ("exposure", "{:.2%}"),
    ("fees_paid", "{:,.2f}"),
]


def _time(text: str | None, name: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(
            f"--{name}: {text!r} is not an ISO date or time (e.g. 2019-01-01)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _params(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise CommandError(f"--param {pair!r}: use name=value, e.g. fast=20")
        try:
            params[name] = json.loads(raw)
        except json.JSONDecodeError:
            raise CommandError(
                f"--param {pair!r}: the value must be a number, true or false"
            ) from None
    return params


class Command(BaseCommand):
    help = (
        "Run one backtest on stored candles and print its metrics (--json: the "
        "whole result). Nothing is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--symbol", required=True, help="BASE-QUOTE, e.g. BTC-USD")
        parser.add_argument("--timeframe", required=True, choices=list(TIMEFRAMES))
        parser.add_argument("--strategy", required=True, choices=list(STRATEGIES))
        parser.add_argument(
            "--param", action="append", default=[], help="name=value (repeatable)"
        )
        parser.add_argument("--start", help="ISO date or time, UTC; default: first bar")
        parser.add_argument("--end", help="ISO date or time, UTC, exclusive")
        parser.add_argument("--capital", type=float, default=10_000.0)
        parser.add_argument("--fee-bps", type=float, help="default: system setting")
        parser.add_argument(
            "--slippage-bps", type=float, help="default: system setting"
        )
        parser.add_argument("--fraction", type=float, default=1.0)
        parser.add_argument("--stop-loss", type=float, help="fraction, e.g. 0.05")
        parser.add_argument("--take-profit", type=float)
        parser.add_argument("--trailing-stop", type=float)
        parser.add_argument("--user", help="email: use this user's private data too")
        parser.add_argument("--json", action="store_true", help="print everything")

    def handle(self, *args: Any, **opts: Any) -> None:
        owner = None
        if opts["user"]:
            owner = User.objects.filter(email__iexact=opts["user"]).first()
            if owner is None:
                raise CommandError(f"no user with email {opts['user']}")
        req = services.JobRequest(
            symbol=opts["symbol"],
            timeframe=opts["timeframe"],
            strategy=opts["strategy"],
            params=_params(opts["param"]),
            start=_time(opts["start"], "start"),
            end=_time(opts["end"], "end"),
            initial_capital=opts["capital"],
            fee_bps=opts["fee_bps"],
            slippage_bps=opts["slippage_bps"],
            fraction=opts["fraction"],
            stop_loss=opts["stop_loss"],
            take_profit=opts["take_profit"],
            trailing_stop=opts["trailing_stop"],
        )
        try:
            job = services.check_request(owner=owner, req=req)
            data = services.load_ohlcv(job.asset, req.timeframe, job.start, job.end)
            result, metrics = services.compute_backtest(
                data=data,
                strategy=job.strategy,
                params=job.params,
                config=job.config,
                timeframe=req.timeframe,
            )
        except services.BacktestRequestError as exc:
            raise CommandError(str(exc)) from None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if opts["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "symbol": job.asset.symbol,
                        "timeframe": req.timeframe,
                        "strategy": job.strategy.name,
                        "params": job.params,
                        "config": asdict(job.config),
                        "metrics": metrics,
                        "trades": result.trades.to_records(),
                        "equity": [
                            [int(t), float(e)]
                            for t, e in zip(
                                result.timestamp, result.equity, strict=True
                            )
                        ],
                    },
                    indent=2,
                )
            )
            return
        self._print(job, req, metrics)

    def _print(self, job: Any, req: Any, metrics: dict[str, Any]) -> None:
        params = ", ".join(f"{k}={v}" for k, v in job.params.items()) or "no params"
        self.stdout.write(
            f"{job.strategy.name} ({params}) on {job.asset.symbol} {req.timeframe}, "
            f"{job.start:%Y-%m-%d %H:%M} to {job.end:%Y-%m-%d %H:%M} UTC, "
            f"fee {job.config.fee_bps:g} bps, slippage {job.config.slippage_bps:g} bps"
        )
        for key, fmt in HEADLINE:
            value = metrics.get(key)
            text = "n/a" if value is None else fmt.format(value)
            self.stdout.write(f"  {key:<18} {text}")

"""SIGTERM to the feed and to beat, through real processes on the test's own
redis-server and a temporary SQLite file: each exits cleanly within seconds, and
nothing it was doing is left half-done.

* The feed replays BTC-USD fast to a running paper bot that trades: after
  SIGTERM it exits 0 having finished the tick it was recording (the signal only
  sets a flag), every filled order has exactly one fill, the position is the sum
  of its fills; a restarted feed resumes where it stopped and decides no bar twice.
* Beat exits 0 and leaves a schedule file the next beat opens without complaint.
* Redis stopped under a running feed: the feed stays up and beats again after.
"""

from __future__ import annotations

import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest

from .conftest import (
    EMAIL,
    PYTHON,
    ROOT,
    PrivateRedis,
    base_env,
    manage,
    query,
    set_settings,
    start_feed,
    wait_for,
)

pytestmark = pytest.mark.integration

BOT = f"""
from decimal import Decimal
from apps.accounts.models import User
from apps.bots import services
user = User.objects.get(email={EMAIL!r})
bot = services.create_bot(owner=user, spec=services.BotSpec(
    name="shutdown", symbol="BTC-USD", strategy="sma_cross",
    params={{"fast": 3, "slow": 8}}, timeframe="1h", starting_cash=Decimal(10000)))
services.start_bot(bot=bot, actor=user)
print(bot.pk)
"""


def _fills(db: Path) -> int:
    return query(db, "SELECT COUNT(*) FROM bots_fill")[0][0]


def _check_ledger(db: Path, bot: int) -> None:
    """No half-written fill: order status, fill rows and position agree."""
    orphans = query(
        db,
        "SELECT o.id, o.status, COUNT(f.id) FROM bots_order o "
        "LEFT JOIN bots_fill f ON f.order_id = o.id WHERE o.bot_id = ? "
        "GROUP BY o.id HAVING (o.status = 'filled') != (COUNT(f.id) = 1) "
        "OR COUNT(f.id) > 1",
        bot,
    )
    assert orphans == []
    sides = query(db, "SELECT side, quantity FROM bots_fill WHERE bot_id = ?", bot)
    held = sum(
        (Decimal(str(q)) if s == "buy" else -Decimal(str(q)) for s, q in sides),
        Decimal(0),
    )
    ((quantity,),) = query(
        db, "SELECT quantity FROM bots_position WHERE bot_id = ?", bot
    )
    assert Decimal(str(quantity)) == held


def _decided_bars(db: Path, bot: int) -> list[str]:
    rows = query(
        db,
        "SELECT bar_time FROM bots_journalentry WHERE bot_id = ? AND kind = "
        "'decision' ORDER BY id",
        bot,
    )
    return [r[0] for r in rows]


def _sigterm(process: subprocess.Popen[bytes], log: Path) -> float:
    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    code = process.wait(timeout=30)
    took = time.monotonic() - started
    assert code == 0, log.read_text()[-3000:]
    return took


def test_feed_stops_on_sigterm_mid_replay_with_nothing_half_written(
    private_redis: PrivateRedis,
    db_file: Path,
    tmp_path: Path,
    spawned: list[subprocess.Popen[bytes]],
) -> None:
    env = base_env(tmp_path, private_redis.url, db_file)
    env["REPLAY_DAYS"] = "60"
    # 20 replayed hours a second, 6 ticks each: the bot decides and trades often.
    set_settings(env, market_data_provider="replay", feed_interval_seconds=0.05)
    bot = int(manage("shell", "-c", BOT, env=env).strip().splitlines()[-1])
    log = tmp_path / "feed.log"
    feed = start_feed(env, log, spawned=spawned)
    wait_for(lambda: _fills(db_file) >= 2, 60, "the bot to trade", step=0.05)
    took = _sigterm(feed, log)
    text = log.read_text()
    assert "run_feed: stopped after" in text and ", 0 errors" in text, text[-2000:]
    assert "Traceback" not in text, text[-3000:]
    assert took < 10, took
    _check_ledger(db_file, bot)
    before = _decided_bars(db_file, bot)
    fills_before = _fills(db_file)

    # Restarted, it resumes from the last recorded tick: no bar decided twice.
    feed = start_feed(env, log, spawned=spawned)
    wait_for(
        lambda: len(_decided_bars(db_file, bot)) > len(before) + 1,
        60,
        "new decisions after the restart",
        step=0.05,
    )
    _sigterm(feed, log)
    _check_ledger(db_file, bot)
    after = _decided_bars(db_file, bot)
    assert after[: len(before)] == before
    assert after == sorted(set(after)), "a bar was decided twice"
    assert _fills(db_file) >= fills_before
    assert "Traceback" not in log.read_text()
    print(f"feed gone {took:.2f} s after SIGTERM; {len(after)} decisions, no repeat")


def test_beat_stops_on_sigterm_and_its_schedule_survives(
    private_redis: PrivateRedis, db_file: Path, tmp_path: Path
) -> None:
    env = base_env(tmp_path, private_redis.url, db_file)
    log = tmp_path / "beat.log"
    schedule = tmp_path / "celerybeat-schedule"
    for attempt in range(2):
        beat = subprocess.Popen(
            [PYTHON, "-m", "celery", "-A", "aaiti", "beat", "--loglevel", "INFO"],
            cwd=ROOT,
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(
                lambda n=attempt: log.read_text().count("beat: Starting") > n,
                60,
                "beat to start",
            )
            time.sleep(2)  # past opening its schedule
            took = _sigterm(beat, log)
        finally:
            if beat.poll() is None:
                beat.kill()
                beat.wait(timeout=10)
        assert took < 10, took
        assert list(tmp_path.glob("celerybeat-schedule*")), "no schedule file"
    text = log.read_text()
    assert "corrupted" not in text.lower() and "Traceback" not in text, text[-3000:]
    assert schedule.parent == tmp_path


def test_feed_outlives_a_redis_outage(
    private_redis: PrivateRedis,
    db_file: Path,
    tmp_path: Path,
    spawned: list[subprocess.Popen[bytes]],
) -> None:
    """Redis stopped for 10 s under a running feed: the feed process stays up
    (honcho would stop every process if it exited) and beats again after."""
    env = base_env(tmp_path, private_redis.url, db_file)
    set_settings(env, market_data_provider="replay", feed_interval_seconds=0.5)
    log = tmp_path / "feed.log"
    feed = start_feed(env, log, spawned=spawned)
    client = private_redis.client()
    wait_for(lambda: client.keys("*heartbeat*"), 30, "a heartbeat")
    private_redis.stop()
    time.sleep(10)
    assert feed.poll() is None, log.read_text()[-3000:]
    private_redis.start()
    client = private_redis.client()
    client.flushall()  # only what the feed writes from now on counts
    wait_for(lambda: client.keys("*heartbeat*"), 30, "the heartbeat again")
    assert feed.poll() is None
    _sigterm(feed, log)

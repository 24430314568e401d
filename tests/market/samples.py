from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "data" / "market"

HOURLY_CSV = b"""https://www.CryptoDataDownload.com
Date,Symbol,Open,High,Low,Close,Volume BTC,Volume USD
2019-07-01 03-AM,BTCUSD,102.0,104.0,101.0,103.0,5.5,566.5
2019-07-01 02-AM,BTCUSD,101.0,103.0,100.5,102.0,4.0,408.0
2019-07-01 01-AM,BTCUSD,100.0,102.0,99.0,101.0,3.0,303.0
"""

BAD_CSV = b"""timestamp,open,high,low,close,volume
2019-07-01T00:00:00Z,100,101,99,100.5,1
2019-07-01T01:00:00Z,100.5,100,99,100.2,1
2019-07-01T02:00:00Z,100.2,101,99,-3,1
2019-07-01T03:00:00Z,100.2,101,99,100.9,2
"""

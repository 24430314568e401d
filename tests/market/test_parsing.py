from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.market.parsing import (
    ParseError,
    ParseReport,
    _SeenTimes,
    detect_layout,
    iter_chunks,
    list_assets,
    parse,
    parse_time,
    read_arrays,
)

DATA = Path("/work/shared/data/market")
HOURLY = DATA / "bitfinex-1h-btc-usd.csv"
DAILY = DATA / "bitfinex-1d-btc-usd.csv"
WIDE = DATA / "bitfinex-1d-btc-eth-usd-wide.csv"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def parse_text(text: str, **kw: object) -> tuple[list, ParseReport]:
    return parse(io.StringIO(text), **kw)  # type: ignore[arg-type]


def errors_of(text: str) -> list[str]:
    return [str(e) for e in parse_text(text)[1].errors]


# ---------------------------------------------------------------- sample files


def test_hourly_sample_hand_checked_against_file_text():
    with HOURLY.open("rb") as fh:
        rows, report = parse(fh)
    assert report.ok and report.rows == len(rows) == 17583
    # line 2: "2019-07-04 01:00,BTCUSD,11849.99,11880.0,11790.01,11849.69,303.61,..."
    first = rows[0]
    assert first.line == 2
    assert first.open_time == utc(2019, 7, 4, 1)
    assert (first.open, first.high, first.low, first.close) == (
        Decimal("11849.99"),
        Decimal("11880.0"),
        Decimal("11790.01"),
        Decimal("11849.69"),
    )
    assert first.volume == Decimal("303.61")  # VolumeFrom (BTC), not VolumeTo (USD)
    # last line: 2017-07-01 11:00,BTCUSD,2505.56,2513.38,2495.12,2509.17,114.6,287000.32
    last = rows[-1]
    assert (last.line, last.open_time, last.close, last.volume) == (
        17584,
        utc(2017, 7, 1, 11),
        Decimal("2509.17"),
        Decimal("114.6"),
    )
    # line 14372 is out of order in the real file (2017-11-12 08:00 after 03:00)
    assert rows[14370].open_time == utc(2017, 11, 12, 8)
    assert report.layout.volume_column == "VolumeFrom"
    assert report.inferred_timeframe == "1h"
    assert report.order == "unordered"
    assert report.descending_steps > 17000


def test_hourly_sample_matches_pandas():
    with HOURLY.open() as fh:
        rows, _ = parse(fh)
    frame = pd.read_csv(HOURLY)
    assert len(frame) == len(rows)
    times = pd.to_datetime(frame["Date"], utc=True)
    assert [r.open_time for r in rows] == [t.to_pydatetime() for t in times]
    for column, attr in [
        ("Open", "open"),
        ("High", "high"),
        ("Low", "low"),
        ("Close", "close"),
        ("VolumeFrom", "volume"),
    ]:
        ours = np.array([float(getattr(r, attr)) for r in rows])
        np.testing.assert_array_equal(ours, frame[column].to_numpy())


def test_daily_sample_is_newest_first_with_a_known_row():
    with DAILY.open() as fh:
        rows, report = parse(fh)
    assert report.ok and len(rows) == 1665
    assert report.order == "descending" and report.inferred_timeframe == "1d"
    # line 539: 2018-01-01 00:00,BTCUSD,13863.13,13889.0,12952.5,13480.01,11484.01,...
    row = next(r for r in rows if r.line == 539)
    assert row.open_time == utc(2018, 1, 1)
    assert (row.open, row.high, row.low, row.close, row.volume) == tuple(
        Decimal(v) for v in ("13863.13", "13889.0", "12952.5", "13480.01", "11484.01")
    )
    assert report.min_time == utc(2014, 12, 1) and report.max_time == utc(2019, 7, 4)


def test_wide_sample_lists_assets_and_parses_each():
    with WIDE.open() as fh:
        assert list_assets(fh) == ("BTC", "ETH")
        layout = detect_layout(fh)
        assert layout.kind == "wide"
        btc, btc_report = parse(fh, asset="BTC")
    assert btc_report.ok and len(btc) == 1862 and btc_report.order == "ascending"
    with WIDE.open() as fh:
        eth, report = parse(fh, asset="eth")
    # ETH cells are empty before it trades: skipped and counted, not errors.
    assert report.ok and len(eth) == 1319 and report.not_trading == 543
    # line 545: 2016-05-27,454.68,...,9644.73,11.98,11.98,10.25,11.25,13749.03
    assert eth[0].line == 545 and eth[0].open_time == utc(2016, 5, 27)
    assert (eth[0].open, eth[0].high, eth[0].low, eth[0].close, eth[0].volume) == tuple(
        Decimal(v) for v in ("11.98", "11.98", "10.25", "11.25", "13749.03")
    )
    assert btc[543].close == Decimal("470.94")


def test_wide_file_needs_a_known_asset():
    with WIDE.open() as fh, pytest.raises(ParseError, match="several assets"):
        parse(fh)
    with WIDE.open() as fh, pytest.raises(ParseError, match="'DOGE' is not in"):
        parse(fh, asset="DOGE")


def test_wide_row_with_some_cells_missing_is_an_error():
    text = ",BTC:open,BTC:high,BTC:low,BTC:close,BTC:volume\n2020-01-01,1,2,0.5,,3\n"
    assert errors_of(text) == ["line 2: close is empty"]


# ---------------------------------------------------------------- layouts


def test_cryptodatadownload_banner_unix_ms_and_volume_names():
    text = (
        "https://www.CryptoDataDownload.com\n"
        "Unix Timestamp,Date,Symbol,Open,High,Low,Close,Volume BTC,Volume USD\n"
        "1562198400000,2019-07-04 00-AM,BTCUSD,11976.42,12064.26,11820.0,11909.55,"
        "1237.57,14790355.69\n"
        "1562194800,2019-07-03 11-PM,BTCUSD,11920.0,12014.6,11812.03,11976.42,"
        "2116.97,25248625.51\n"
    )
    rows, report = parse_text(text)
    assert report.layout.header_line == 2
    assert report.layout.time_column == "Unix Timestamp"  # epoch preferred to text
    assert report.layout.volume_column == "Volume BTC"
    assert [(r.line, r.open_time, r.volume) for r in rows] == [
        (3, utc(2019, 7, 4), Decimal("1237.57")),
        (4, utc(2019, 7, 3, 23), Decimal("2116.97")),
    ]


def test_binance_kline_dump_without_header():
    text = (
        "1562198400000,11976.42,12064.26,11820.00,11909.55,1237.57,1562201999999,"
        "14790355.69,1000,600.1,7000000.0,0\n"
        "1562202000000,11909.55,11950.00,11900.00,11940.00,200.5,1562205599999,"
        "2390000.0,300,100.2,1200000.0,0\n"
    )
    rows, report = parse_text(text)
    assert report.layout.kind == "headerless"
    assert [(r.line, r.open_time, r.close, r.volume) for r in rows] == [
        (1, utc(2019, 7, 4), Decimal("11909.55"), Decimal("1237.57")),
        (2, utc(2019, 7, 4, 1), Decimal("11940.00"), Decimal("200.5")),
    ]
    assert report.inferred_timeframe == "1h"


def test_short_aliases_semicolons_offsets_and_no_volume():
    text = (
        "TIMESTAMP;O;H;L;C\n"
        "2019-07-04T00:00:00Z;1;2;0.5;1.5\n"
        "2019-07-04T03:00:00+02:00;1;2;0.5;1.5\n"
    )
    rows, report = parse_text(text)
    assert report.layout.delimiter == ";"
    assert [(r.open_time, r.volume) for r in rows] == [
        (utc(2019, 7, 4), None),
        (utc(2019, 7, 4, 1), None),
    ]
    assert report.layout.volume_column is None


def test_tabs_bom_and_bytes_input_leave_callers_file_open():
    raw = (
        "\ufeffopen_time\topen\thigh\tlow\tclose\tvol\n1562198400\t1\t2\t0.5\t1.5\t3\n"
    )
    handle = io.BytesIO(raw.encode("utf-8"))
    rows, report = parse(handle)
    assert report.layout.delimiter == "\t"
    assert rows[0].open_time == utc(2019, 7, 4) and rows[0].volume == 3
    assert not handle.closed


@pytest.mark.parametrize(
    ("header", "chosen", "is_quote"),
    [
        ("date,open,high,low,close,VolumeTo,VolumeFrom", "VolumeFrom", False),
        ("date,open,high,low,close,Volume USD,volume", "volume", False),
        ("date,open,high,low,close,quote_volume,Volume ETH", "Volume ETH", False),
        ("date,open,high,low,close,Volume USDT", "Volume USDT", True),
        ("date,open,high,low,close,quote_asset_volume", "quote_asset_volume", True),
    ],
)
def test_base_volume_is_preferred(header, chosen, is_quote):
    layout = detect_layout(io.StringIO(header + "\n"))
    assert (layout.volume_column, layout.volume_is_quote) == (chosen, is_quote)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-07-04", utc(2019, 7, 4)),
        ("2019-07-04 01:00", utc(2019, 7, 4, 1)),
        ("2019-07-04 13:00:00", utc(2019, 7, 4, 13)),
        ("2019-07-04T13:00:00Z", utc(2019, 7, 4, 13)),
        ("2019-07-04T15:00:00+02:00", utc(2019, 7, 4, 13)),
        ("2019-07-04 13:00:00.000", utc(2019, 7, 4, 13)),
        ("2019-07-04 01-PM", utc(2019, 7, 4, 13)),
        ("2019-07-04 12-AM", utc(2019, 7, 4, 0)),
        ("2019-07-04 12-PM", utc(2019, 7, 4, 12)),
        ("2019-07-04 09:30 am", utc(2019, 7, 4, 9, 30)),
        ("1562198400", utc(2019, 7, 4)),  # seconds
        ("1562198400000", utc(2019, 7, 4)),  # milliseconds
        ("1562198400000000", utc(2019, 7, 4)),  # microseconds (Binance since 2025)
        ("1562198400000000000", utc(2019, 7, 4)),  # nanoseconds
        ("1562198400.5", utc(2019, 7, 4) + timedelta(milliseconds=500)),
    ],
)
def test_parse_time_formats(text, expected):
    assert parse_time(text) == expected
    assert parse_time(text).tzinfo is UTC


@pytest.mark.parametrize("text", ["yesterday", "2019-13-01", "2019-07-04 13-PM", ""])
def test_parse_time_rejects(text):
    with pytest.raises(ValueError):
        parse_time(text)


# ---------------------------------------------------------------- row errors

HEADER = "date,open,high,low,close,volume\n"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("2019-07-05,100.0,100.0,99,101.5,1", "high 100.0 is below close 101.5"),
        ("2019-07-05,100,102,100.5,101,1", "low 100.5 is above open 100"),
        ("2019-07-05,0,2,0,1,1", "open 0 is not positive; low 0 is not positive"),
        ("2019-07-05,1,2,0.5,1.5,-3", "volume -3 is negative"),
        ("2019-07-05,1,2,NaN,1.5,1", "low 'NaN' is not a number"),
        ("2019-07-05,1,2,abc,1.5,1", "low 'abc' is not a number"),
        ("2019-07-05,1,2,,1.5,1", "low is empty"),
        ("soon,1,2,0.5,1.5,1", "cannot read the time 'soon'"),
        ("2019-07-05,1,2,0.5", "too few columns (4)"),
    ],
)
def test_bad_row_reports_line_and_reason(row, reason):
    text = HEADER + "2019-07-04,1,2,0.5,1.5,1\n" + row + "\n2019-07-06,1,2,0.5,1.5,1\n"
    rows, report = parse_text(text)
    assert [str(e) for e in report.errors] == [f"line 3: {reason}"]
    assert [r.line for r in rows] == [2, 4]  # good rows still returned
    assert not report.ok and report.error_count == 1


def test_duplicate_time_names_the_first_line_even_across_chunks():
    lines = [f"2019-07-{day:02d},1,2,0.5,1.5,1" for day in range(1, 11)]
    lines.append("2019-07-02T00:00:00Z,1,2,0.5,1.5,1")  # same time as line 3
    report = ParseReport()
    chunks = list(
        iter_chunks(io.StringIO(HEADER + "\n".join(lines)), chunk_size=3, report=report)
    )
    assert all(len(chunk) <= 3 for chunk in chunks)
    assert sum(len(c) for c in chunks) == 10
    assert [str(e) for e in report.errors] == [
        "line 12: duplicate time 2019-07-02T00:00:00Z (first on line 3)"
    ]


def test_blank_lines_are_counted_not_errors():
    rows, report = parse_text(HEADER + "\n2019-07-04,1,2,0.5,1.5,1\n\n,,,,,\n")
    assert len(rows) == 1 and report.ok and report.blank_lines == 3


def test_error_list_is_capped_but_counted():
    bad = "".join(f"2019-07-04,1,0.5,0.5,1,{i}\n" for i in range(30))
    report = ParseReport(max_errors=5)
    list(iter_chunks(io.StringIO(HEADER + bad), report=report))
    assert report.error_count == 30 and len(report.errors) == 5


# ---------------------------------------------------------------- whole-file errors


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\n  \n", "the file is empty"),
        (b"PK\x03\x04\x14\x00\x06\x00", "binary file"),
        (b"name,price\nbitcoin,3\n", "no header found"),
        (b"date,open,high,low,close\n2019-07-04,1,1,1,1\n\xff\xfe,1\n", "not UTF-8"),
    ],
)
def test_unreadable_files_raise_parse_error(content, message):
    with pytest.raises(ParseError, match=message):
        parse(io.BytesIO(content))
    assert issubclass(ParseError, ValueError)


# ---------------------------------------------------------------- streaming


class CountingReader(io.StringIO):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.lines_read = 0

    def __next__(self) -> str:
        self.lines_read += 1
        return super().__next__()


def test_chunks_stream_without_reading_the_whole_file():
    start = utc(2020, 1, 1)
    body = "".join(
        f"{(start + timedelta(hours=i)).isoformat()},1,2,0.5,1.5,1\n"
        for i in range(50_000)
    )
    source = CountingReader(HEADER + body)
    chunks = iter_chunks(source, chunk_size=100)
    first = next(chunks)
    assert len(first) == 100
    assert source.lines_read < 500
    chunks.close()


def test_read_arrays_sorts_oldest_first_like_pandas():
    with HOURLY.open() as fh:
        arrays = read_arrays(fh)
    frame = pd.read_csv(HOURLY)
    frame["t"] = pd.to_datetime(frame["Date"], utc=True)
    frame = frame.sort_values("t")
    expected_seconds = (frame["t"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta("1s")
    np.testing.assert_array_equal(arrays.time, expected_seconds.to_numpy())
    np.testing.assert_array_equal(arrays.close, frame["Close"].to_numpy())
    np.testing.assert_array_equal(arrays.volume, frame["VolumeFrom"].to_numpy())
    assert np.all(np.diff(arrays.time) == 3600)


def test_timeframe_warning():
    with DAILY.open() as fh:
        _, report = parse(fh)
    assert report.timeframe_warning("1d") is None
    assert (
        report.timeframe_warning("1h")
        == "you chose 1h but the rows are spaced 1d apart"
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 40), max_size=12), max_size=12))
def test_seen_times_finds_exactly_the_repeats(batches):
    seen, first_line, line = _SeenTimes(), {}, 0
    for batch in batches:
        lines = list(range(line + 1, line + 1 + len(batch)))
        line += len(batch)
        expected = {}
        for index, (key, at) in enumerate(zip(batch, lines, strict=True)):
            if key in first_line:
                expected[index] = first_line[key]
            else:
                first_line[key] = at
        assert seen.add(batch, lines) == expected


def test_seen_times_on_a_large_interleaved_sequence():
    # 20k times in a zig-zag order with every 997th one repeated later on.
    order = [k if k % 2 else 40_000 - k for k in range(20_000)]
    keys = order + order[::997]
    lines = list(range(1, len(keys) + 1))
    seen, found = _SeenTimes(), {}
    for start in range(0, len(keys), 1000):
        batch = seen.add(keys[start : start + 1000], lines[start : start + 1000])
        found.update({start + index: line for index, line in batch.items()})
    first = {key: line for line, key in reversed(list(enumerate(keys, start=1)))}
    expected = {
        index: first[key] for index, key in enumerate(keys) if first[key] != index + 1
    }
    assert found == expected and len(found) == len(order[::997])


def test_coinmarketcap_export_uses_the_open_time():
    text = (
        '"timeOpen";"timeClose";"timeHigh";"timeLow";"name";"open";"high";"low";'
        '"close";"volume";"marketCap";"timestamp"\n'
        '"2024-03-01T00:00:00.000Z";"2024-03-01T23:59:59.999Z";"2024-03-01T12:00:00Z";'
        '"2024-03-01T03:00:00Z";"2781";61168.06;63155.10;60802.53;62440.63;'
        '40186368423.00;1226759540001.62;"2024-03-01T23:59:59.999Z"\n'
    )
    rows, report = parse_text(text)
    assert report.layout.time_column == "timeOpen"
    assert [(r.open_time, r.close) for r in rows] == [
        (utc(2024, 3, 1), Decimal("62440.63"))
    ]

"""Artefacts: exact round trips, checksums, tamper detection, atomic writes."""

from __future__ import annotations

import hashlib
import os
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from apps.mlmodels import forecasters
from apps.mlmodels.forecasters import ArtefactError, Forecaster, NotFittedError, create
from apps.mlmodels.forecasters.arima import ArimaForecaster
from apps.mlmodels.forecasters.base import pack_artefact, sidecar_path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CASES: list[tuple[str, dict[str, Any]]] = [
    ("naive", {}),
    ("seasonal_naive", {"season": 4}),
    ("drift", {}),
    ("arima", {"p": 2, "d": 1, "q": 1}),
    ("sarima", {"p": 1, "q": 0, "P": 1, "Q": 0, "s": 4}),
    ("sarima", {"p": 1, "q": 0, "P": 1, "Q": 0, "s": 4, "simple_differencing": True}),
    ("prophet", {}),
    ("lstm", {"window": 16, "units": 8, "epochs": 2, "random_seed": 4}),
]


def series(n: int = 200) -> tuple[np.ndarray, list[datetime]]:
    rng = np.random.default_rng(9)
    y = 100 + np.cumsum(rng.normal(0, 1, n)) + np.sin(np.arange(n) * np.pi / 2)
    start = datetime(2024, 5, 1, tzinfo=UTC)
    return y, [start + timedelta(hours=i) for i in range(n)]


@pytest.fixture(scope="module")
def arima_model() -> Forecaster:
    return create("arima", {"p": 1, "d": 1, "q": 0}).fit(series()[0])


@pytest.mark.parametrize(
    ("name", "params"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)]
)
def test_reloaded_artefact_forecasts_exactly_the_same(
    tmp_path: Path, name: str, params: dict[str, Any]
) -> None:
    y, stamps = series()
    model = create(name, params).fit(y, stamps)
    before = [model.forecast(24, level) for level in (0.80, 0.95)]
    path = tmp_path / f"{name}.aaiti"
    digest = model.save(path)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert sidecar_path(path).read_text().split()[0] == digest
    loaded = forecasters.load(path, expected_sha256=digest)
    assert type(loaded) is type(model) and loaded.params == model.params
    for old, level in zip(before, (0.80, 0.95), strict=True):
        new = loaded.forecast(24, level)
        np.testing.assert_array_equal(new.mean, old.mean)
        np.testing.assert_array_equal(new.lower, old.lower)
        np.testing.assert_array_equal(new.upper, old.upper)
        np.testing.assert_array_equal(new.timestamps, old.timestamps)


def test_tampered_artefact_fails_to_load(
    tmp_path: Path, arima_model: Forecaster
) -> None:
    path = tmp_path / "m.aaiti"
    arima_model.save(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ArtefactError, match="fails its checksum"):
        forecasters.load(path)


def test_rewritten_artefact_with_its_own_sidecar_fails_against_recorded_digest(
    tmp_path: Path, arima_model: Forecaster
) -> None:
    path = tmp_path / "m.aaiti"
    recorded = arima_model.save(path)
    # An attacker who can write both files still can't match the digest in the DB.
    create("naive").fit([1.0, 2.0, 3.0]).save(path)
    with pytest.raises(ArtefactError, match="not the one recorded"):
        forecasters.load(path, expected_sha256=recorded)


def test_missing_sidecar_or_file_fails_clearly(
    tmp_path: Path, arima_model: Forecaster
) -> None:
    path = tmp_path / "m.aaiti"
    arima_model.save(path)
    sidecar_path(path).unlink()
    with pytest.raises(ArtefactError, match="cannot read"):
        forecasters.load(path)
    with pytest.raises(ArtefactError, match="cannot read"):
        forecasters.load(tmp_path / "absent.aaiti")


def test_foreign_algorithm_and_format_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "n.aaiti"
    create("naive").fit([1.0, 2.0, 3.0]).save(path)
    with pytest.raises(ArtefactError, match="not 'arima'"):
        ArimaForecaster.load(path)
    other = tmp_path / "x.aaiti"
    data = pack_artefact({"format": 99, "algorithm": "naive"}, {})
    other.write_bytes(data)
    sidecar_path(other).write_text(hashlib.sha256(data).hexdigest())
    with pytest.raises(ArtefactError, match="unknown format"):
        forecasters.load(other)


def test_save_is_atomic_and_leaves_no_temp_files(
    tmp_path: Path, arima_model: Forecaster
) -> None:
    path = tmp_path / "m.aaiti"
    first = arima_model.save(path)
    second = arima_model.save(path)  # overwrite in place
    assert first == second  # deterministic bytes for the same model
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.aaiti", "m.aaiti.sha256"]
    assert zipfile.ZipFile(path).namelist() == ["meta.json", "state.npz"]


def test_unfitted_model_cannot_be_saved(tmp_path: Path) -> None:
    with pytest.raises(NotFittedError):
        create("naive").save(tmp_path / "m.aaiti")

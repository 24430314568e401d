"""The forecaster interface, its result type, parameter specs and artefact files.

Framework-free on purpose: no Django and no heavy library here. numpy is the only
third-party import; statsmodels, prophet and tensorflow are imported inside the
``_fit``/``_load`` methods of the algorithm modules, so importing the registry
costs milliseconds in a web process.

Artefact format (version 1)
---------------------------
One zip file (stored, not compressed, written by :func:`write_artefact`) holding

* ``meta.json``: ``{"format": 1, "algorithm": ..., "params": {...}, "state": {...}}``
* algorithm members, e.g. ``state.npz`` (numpy, loaded with ``allow_pickle=False``),
  ``results.pickle`` (statsmodels), ``model.json`` (prophet), ``model.keras``.

plus a sidecar ``<file>.sha256`` holding the SHA-256 hex digest of the whole zip.
The digest is also returned by ``save`` so the database can keep its own copy and
pass it back as ``expected_sha256`` on load. Loading reads the file once into
memory, checks the digest against the sidecar (and the caller's copy), and only
then parses those same bytes: a tampered file never reaches an unpickler.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from statistics import NormalDist
from typing import Any, ClassVar, Self

import numpy as np

ARTEFACT_FORMAT = 1
SIDECAR_SUFFIX = ".sha256"
LEVELS = (0.80, 0.95)
# Design timeframes -> minutes; forecasts are indexed on this grid.
TIMEFRAMES: Mapping[str, int] = {
    "1m": 1,
    "5m": 5,
    "15m": 15,
    "1h": 60,
    "4h": 240,
    "1d": 1440,
}
DEFAULT_FREQ = "1h"

ProgressCallback = Callable[[int, int], None]
CancelCheck = Callable[[], bool]


class ForecastError(Exception):
    """Base class for every error raised by the forecasting core."""


class ParamError(ForecastError, ValueError):
    """A parameter (or argument) is invalid; ``field`` names it for a form."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NotFittedError(ForecastError):
    """forecast() or save() was called before fit()."""


class ArtefactError(ForecastError):
    """An artefact is missing, unreadable, of a foreign format or fails its checksum."""


class Cancelled(ForecastError):  # noqa: N818 - reads as "raise Cancelled"
    """The caller's cancellation hook returned True."""


@dataclass(frozen=True)
class ParamSpec:
    """One tunable parameter, described well enough to build a form field."""

    name: str
    type: type  # int, float, bool or str
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    label: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type.__name__,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "choices": list(self.choices) if self.choices else None,
            "help": self.help,
            "label": self.label or self.name,
        }

    def validate(self, value: Any) -> Any:
        label = self.label or self.name
        if self.type is bool:
            return _check_bool(self.name, label, value)
        if self.type is str:
            return _check_choice(self.name, label, value, self.choices or ())
        if self.type is int:
            return _check_int(self.name, label, value, self.min, self.max)
        return _check_float(self.name, label, value, self.min, self.max)


def _range_text(kind: str, low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{kind} from {low:g} to {high:g}"
    if low is not None:
        return f"{kind} of at least {low:g}"
    return kind


def _check_bool(name: str, label: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ParamError(name, f"{label} must be true or false")


def _check_choice(name: str, label: str, value: Any, choices: Sequence[str]) -> str:
    if isinstance(value, str) and value in choices:
        return value
    raise ParamError(name, f"{label} must be one of: {', '.join(choices)}")


def _check_int(
    name: str, label: str, value: Any, low: float | None, high: float | None
) -> int:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if (
        not ok
        or (low is not None and value < low)
        or (high is not None and value > high)
    ):
        raise ParamError(
            name, f"{label} must be an {_range_text('integer', low, high)}"
        )
    return int(value)


def _check_float(
    name: str, label: str, value: Any, low: float | None, high: float | None
) -> float:
    ok = isinstance(value, int | float | np.number) and not isinstance(value, bool)
    number = float(value) if ok else math.nan
    bad = not math.isfinite(number)
    if (
        bad
        or (low is not None and number < low)
        or (high is not None and number > high)
    ):
        raise ParamError(name, f"{label} must be a {_range_text('number', low, high)}")
    return number


def validate_params(
    specs: Sequence[ParamSpec], raw: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Defaults filled in, every value checked; unknown names are an error too."""
    raw = dict(raw or {})
    known = {spec.name for spec in specs}
    for name in raw:
        if name not in known:
            raise ParamError(name, f"unknown parameter {name!r}")
    return {
        spec.name: spec.validate(raw.get(spec.name, spec.default)) for spec in specs
    }


def normalise_level(level: float) -> float:
    """Accept 0.8/0.95 or 80/95; anything else is a ParamError."""
    value = level / 100 if level > 1 else level
    for allowed in LEVELS:
        if abs(value - allowed) < 1e-9:
            return allowed
    raise ParamError("level", "level must be 80 or 95 percent")


def z_value(level: float) -> float:
    """Two-sided normal quantile, e.g. 1.96 for 0.95."""
    return NormalDist().inv_cdf(0.5 + level / 2)


@dataclass(frozen=True)
class Forecast:
    """h-step forecast: mean path and a prediction interval at ``level``."""

    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    timestamps: np.ndarray | None = None  # datetime64[s], UTC, when known

    @property
    def horizon(self) -> int:
        return int(self.mean.shape[0])

    def as_dict(self) -> dict[str, Any]:
        stamps = None
        if self.timestamps is not None:
            stamps = [f"{t}Z" for t in self.timestamps.astype("datetime64[s]")]
        return {
            "level": self.level,
            "mean": self.mean.tolist(),
            "lower": self.lower.tolist(),
            "upper": self.upper.tolist(),
            "timestamps": stamps,
        }


@dataclass
class FitContext:
    """What a fit may report to, or be stopped by; both optional."""

    on_epoch: ProgressCallback | None = None
    should_cancel: CancelCheck | None = None

    def check_cancel(self) -> None:
        if self.should_cancel is not None and self.should_cancel():
            raise Cancelled("cancelled by the caller")


@dataclass
class Artefact:
    """The unpacked, checksum-verified contents of an artefact file."""

    meta: dict[str, Any]
    members: dict[str, bytes] = field(default_factory=dict)
    sha256: str = ""


def as_series(y: Any, *, min_length: int) -> np.ndarray:
    """A 1-D finite float64 copy of ``y`` (a copy, so callers can't mutate us)."""
    try:
        arr = np.array(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ParamError("y", "series must be numeric") from exc
    if arr.ndim != 1:
        raise ParamError("y", "series must be one-dimensional")
    if arr.size < min_length:
        raise ParamError("y", f"series needs at least {min_length} points")
    if not np.all(np.isfinite(arr)):
        raise ParamError("y", "series contains NaN or infinite values")
    return arr


def as_timestamps(timestamps: Any, n: int) -> np.ndarray | None:
    """UTC datetime64[s]; tz-aware inputs are converted, naive ones taken as UTC."""
    if timestamps is None:
        return None
    values = []
    for ts in timestamps:
        if getattr(ts, "tzinfo", None) is not None:
            ts = ts.astimezone(UTC).replace(tzinfo=None)
        values.append(np.datetime64(ts, "s"))
    arr = np.array(values, dtype="datetime64[s]")
    if arr.shape != (n,):
        raise ParamError("timestamps", "timestamps must have one entry per value")
    if n > 1 and not np.all(np.diff(arr) > np.timedelta64(0, "s")):
        raise ParamError("timestamps", "timestamps must be strictly increasing")
    return arr


def check_freq(freq: str) -> str:
    if freq not in TIMEFRAMES:
        raise ParamError("freq", f"freq must be one of: {', '.join(TIMEFRAMES)}")
    return freq


def check_horizon(h: int) -> int:
    if (
        not isinstance(h, int | np.integer)
        or isinstance(h, bool)
        or not 1 <= h <= 10_000
    ):
        raise ParamError("h", "horizon h must be an integer from 1 to 10000")
    return int(h)


class Forecaster(ABC):
    """Fit a 1-D series, forecast h steps with an interval, save and load.

    Subclasses declare ``name``, ``label``, ``param_specs`` and implement ``_fit``,
    ``_forecast``, ``_dump`` and ``_restore``. The base class owns validation,
    timestamps and the artefact file.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    param_specs: ClassVar[tuple[ParamSpec, ...]] = ()
    min_length: ClassVar[int] = 2
    # True where ``_one_step`` is implemented (model-driven backtests need it).
    one_step: ClassVar[bool] = False

    def __init__(self, params: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        self.params: dict[str, Any] = validate_params(
            self.param_specs, {**(params or {}), **kwargs}
        )
        self.check_combination(self.params)
        self.freq: str = DEFAULT_FREQ
        self.n_obs: int = 0
        self.last_timestamp: np.datetime64 | None = None
        self._fitted = False

    # -- public API -------------------------------------------------------
    def fit(
        self,
        y: Any,
        timestamps: Any = None,
        *,
        freq: str = DEFAULT_FREQ,
        on_epoch: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> Self:
        """Fit on ``y`` (oldest first). ``timestamps`` are optional, UTC."""
        self.freq = check_freq(freq)
        arr = as_series(y, min_length=self.min_length_for(self.params))
        stamps = as_timestamps(timestamps, arr.size)
        ctx = FitContext(on_epoch=on_epoch, should_cancel=should_cancel)
        ctx.check_cancel()
        self._fit(arr, stamps, ctx)
        self.n_obs = int(arr.size)
        self.last_timestamp = None if stamps is None else stamps[-1]
        self._fitted = True
        return self

    def forecast(self, h: int, level: float = 0.95) -> Forecast:
        self._require_fitted()
        h = check_horizon(h)
        level = normalise_level(level)
        mean, lower, upper = self._forecast(h, level)
        return Forecast(
            mean=np.asarray(mean, dtype=np.float64),
            lower=np.asarray(lower, dtype=np.float64),
            upper=np.asarray(upper, dtype=np.float64),
            level=level,
            timestamps=self._future_timestamps(h),
        )

    def one_step_ahead(self, y_next: Any) -> np.ndarray:
        """One-step-ahead forecasts through observations that follow the fit,
        with the parameters as fitted (nothing is re-estimated; ``self`` is
        unchanged). Returns ``len(y_next) + 1`` values: ``out[j]`` forecasts
        ``y_next[j]`` from the training data and ``y_next[:j]`` only; the last
        forecasts the bar after ``y_next``. Used by model-driven backtests."""
        self._require_fitted()
        arr = as_series(y_next, min_length=0)
        out = np.asarray(self._one_step(arr), dtype=np.float64)
        if out.shape != (arr.size + 1,):
            raise ForecastError(f"{self.name}: one-step forecasts of the wrong shape")
        return out

    def _one_step(self, y_next: np.ndarray) -> np.ndarray:
        raise ForecastError(
            f"{self.label} models cannot yet forecast one step ahead through new bars"
        )

    def save(self, path: str | os.PathLike[str]) -> str:
        """Write the artefact atomically; return its SHA-256 hex digest."""
        self._require_fitted()
        state, members = self._dump()
        meta = {
            "format": ARTEFACT_FORMAT,
            "algorithm": self.name,
            "params": self.params,
            "freq": self.freq,
            "n_obs": self.n_obs,
            "last_timestamp": None
            if self.last_timestamp is None
            else str(self.last_timestamp),
            "state": state,
        }
        return write_artefact(path, meta, members)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], expected_sha256: str | None = None
    ) -> Self:
        artefact = read_artefact(path, expected_sha256)
        if artefact.meta.get("algorithm") != cls.name:
            raise ArtefactError(
                f"artefact holds a {artefact.meta.get('algorithm')!r} model, "
                f"not {cls.name!r}"
            )
        return cls.from_artefact(artefact)

    @classmethod
    def from_artefact(cls, artefact: Artefact) -> Self:
        meta = artefact.meta
        try:
            model = cls(meta["params"])
            model.freq = check_freq(meta["freq"])
            model.n_obs = int(meta["n_obs"])
            stamp = meta["last_timestamp"]
            model.last_timestamp = None if stamp is None else np.datetime64(stamp, "s")
            model._restore(meta["state"], artefact.members)
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtefactError(f"artefact is malformed: {exc}") from exc
        model._fitted = True
        return model

    @classmethod
    def min_length_for(cls, params: Mapping[str, Any]) -> int:
        """Shortest series this configuration can be fitted on."""
        return cls.min_length

    @classmethod
    def check_combination(cls, params: Mapping[str, Any]) -> None:
        """Cross-field rules (each field alone is already valid); raise ParamError."""
        return None  # most algorithms have none

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "name": cls.name,
            "label": cls.label,
            "params": [spec.as_dict() for spec in cls.param_specs],
        }

    @property
    def fitted(self) -> bool:
        return self._fitted

    # -- for subclasses ---------------------------------------------------
    @abstractmethod
    def _fit(
        self, y: np.ndarray, timestamps: np.ndarray | None, ctx: FitContext
    ) -> None:
        """Estimate the model on y."""

    @abstractmethod
    def _forecast(
        self, h: int, level: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return mean, lower, upper arrays of length h."""

    @abstractmethod
    def _dump(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        """JSON-safe state plus named binary members for the artefact."""

    @abstractmethod
    def _restore(self, state: dict[str, Any], members: Mapping[str, bytes]) -> None:
        """Inverse of _dump; runs only on checksum-verified bytes."""

    # -- helpers ----------------------------------------------------------
    def _require_fitted(self) -> None:
        if not self._fitted:
            raise NotFittedError(f"{self.name} forecaster is not fitted")

    def step(self) -> np.timedelta64:
        return np.timedelta64(TIMEFRAMES[self.freq], "m")

    def _future_timestamps(self, h: int) -> np.ndarray | None:
        if self.last_timestamp is None:
            return None
        steps = np.arange(1, h + 1) * self.step()
        return (self.last_timestamp + steps).astype("datetime64[s]")


# -- artefact files ---------------------------------------------------------
def sidecar_path(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def _atomic_write(path: Path, data: bytes) -> None:
    """Temp file in the same directory, fsync, os.replace: readers never see half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def pack_artefact(meta: Mapping[str, Any], members: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    # Fixed timestamps keep the bytes (and so the digest) a function of the content.
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        entries = {"meta.json": json.dumps(meta, sort_keys=True).encode(), **members}
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, data)
    return buffer.getvalue()


def write_artefact(
    path: str | os.PathLike[str], meta: Mapping[str, Any], members: Mapping[str, bytes]
) -> str:
    """Write artefact and sidecar atomically; return the SHA-256 hex digest."""
    path = Path(path)
    data = pack_artefact(meta, members)
    digest = hashlib.sha256(data).hexdigest()
    # Artefact first, then sidecar: a crash in between leaves a mismatch, which
    # load reports as an ArtefactError rather than silently using stale bytes.
    _atomic_write(path, data)
    _atomic_write(sidecar_path(path), f"{digest}  {path.name}\n".encode())
    return digest


def read_artefact(
    path: str | os.PathLike[str], expected_sha256: str | None = None
) -> Artefact:
    """Read, verify the checksum, then unpack. Raises ArtefactError on any problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
        recorded = sidecar_path(path).read_text().split()[0].lower()
    except (OSError, IndexError) as exc:
        raise ArtefactError(f"cannot read artefact {path.name}: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != recorded:
        raise ArtefactError(f"artefact {path.name} fails its checksum (tampered?)")
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise ArtefactError(f"artefact {path.name} is not the one recorded")
    return unpack_artefact(data, digest)


def unpack_artefact(data: bytes, digest: str) -> Artefact:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
        meta = json.loads(members.pop("meta.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ArtefactError(f"artefact is unreadable: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != ARTEFACT_FORMAT:
        raise ArtefactError("artefact has an unknown format version")
    return Artefact(meta=meta, members=members, sha256=digest)


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def npz_load(data: bytes) -> dict[str, np.ndarray]:
    # allow_pickle=False: object arrays would be a second unpickling path.
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}

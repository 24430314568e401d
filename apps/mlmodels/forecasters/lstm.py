"""A small LSTM (Keras 3 on tensorflow-cpu), forecasting recursively.

* Target: by default the bar-to-bar change (``target="diff"``), integrated back to
  prices when forecasting; ``"level"`` learns the price itself, which extrapolates
  badly outside the range seen in training.
* Windows: ``window`` past values predict the next one. The last
  ``validation_fraction`` of windows (chronologically last, never shuffled in) is
  the validation set, for early stopping and for the intervals. The scaler (mean,
  standard deviation) is estimated on the training windows' span only.
* Seeding: ``keras.utils.set_random_seed`` (python, numpy and tensorflow
  generators) plus ``tf.config.experimental.enable_op_determinism()``, so the same
  seed and data give the same weights. Both are process-wide: fine in a training
  worker, which is where this runs.
* Intervals: one-step residuals on the validation set give empirical quantiles
  (q_lo, q_hi) at the requested level; the band at step h is
  ``mean_h + q * sqrt(h)``, i.e. one-step errors assumed to accumulate like a random
  walk's. Simple and honest about its assumption; evaluation's coverage figure
  shows how well it holds on a given series.
* Inference: a ``tf.function`` with a fixed input signature, called once per step.
  ``model.predict()`` rebuilds a data pipeline per call (about 75 ms each), which
  would make a 24-step forecast take seconds instead of milliseconds.
* Artefact: the Keras 3 ``.keras`` zip (config JSON + weights, loaded with
  ``safe_mode=True``) inside our artefact, plus scaler and history in ``state.npz``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .base import (
    ArtefactError,
    FitContext,
    Forecaster,
    ParamSpec,
    npz_bytes,
    npz_load,
)

QUANTILES = {0.80: (0.10, 0.90), 0.95: (0.025, 0.975)}


class LstmForecaster(Forecaster):
    """One LSTM layer and a dense output, trained on scaled windows."""

    name: ClassVar[str] = "lstm"
    label: ClassVar[str] = "LSTM"
    one_step: ClassVar[bool] = True
    param_specs: ClassVar[tuple[ParamSpec, ...]] = (
        ParamSpec("window", int, 60, "Past bars fed to the network.", min=4, max=512),
        ParamSpec("units", int, 32, "LSTM units.", min=1, max=512),
        ParamSpec("epochs", int, 20, "Maximum training epochs.", min=1, max=500),
        ParamSpec("batch_size", int, 32, "Windows per gradient step.", min=1, max=4096),
        ParamSpec("learning_rate", float, 0.001, "Adam step size.", min=1e-5, max=0.1),
        ParamSpec(
            "validation_fraction",
            float,
            0.2,
            "Most recent share of windows held out for early stopping and intervals.",
            min=0.05,
            max=0.5,
        ),
        ParamSpec(
            "patience",
            int,
            3,
            "Epochs without validation improvement before stopping (0 = never).",
            min=0,
            max=50,
        ),
        ParamSpec(
            "target",
            str,
            "diff",
            "Learn bar-to-bar changes (diff) or price levels (level).",
            choices=("diff", "level"),
        ),
        ParamSpec(
            "random_seed",
            int,
            42,
            "Seed for weights and shuffling.",
            min=0,
            max=2**31 - 1,
        ),
    )

    @classmethod
    def min_length_for(cls, params: Mapping[str, Any]) -> int:
        # Enough windows that both the training and validation parts are non-trivial.
        return params["window"] + 1 + max(20, int(10 / params["validation_fraction"]))

    # -- fitting ----------------------------------------------------------
    def _fit(
        self, y: np.ndarray, timestamps: np.ndarray | None, ctx: FitContext
    ) -> None:
        quiet_tensorflow()
        import keras
        import tensorflow as tf

        p = self.params
        keras.utils.set_random_seed(p["random_seed"])
        tf.config.experimental.enable_op_determinism()
        z = np.diff(y) if p["target"] == "diff" else y.copy()
        x_all, t_all = self._windows(z)
        n_val = max(1, int(round(len(x_all) * p["validation_fraction"])))
        n_train = len(x_all) - n_val
        # Scaler from the values the training windows and targets span only.
        seen = z[: n_train + p["window"]]
        self.center = float(seen.mean())
        self.scale = float(seen.std()) or 1.0
        x_all = (x_all - self.center) / self.scale
        t_all = (t_all - self.center) / self.scale
        self.model = self._build_model(keras)
        self.model.fit(
            x_all[:n_train, :, None].astype(np.float32),
            t_all[:n_train].astype(np.float32),
            validation_data=(
                x_all[n_train:, :, None].astype(np.float32),
                t_all[n_train:].astype(np.float32),
            ),
            epochs=p["epochs"],
            batch_size=p["batch_size"],
            shuffle=True,
            verbose=0,
            callbacks=self._callbacks(keras, ctx),
        )
        self._compile_inference()
        self._set_residual_quantiles(x_all[n_train:], t_all[n_train:])
        self.history = (z[-p["window"] :] - self.center) / self.scale
        self.last_value = float(y[-1])

    def _windows(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = self.params["window"]
        view = np.lib.stride_tricks.sliding_window_view(z, w + 1)
        return view[:, :w].copy(), view[:, w].copy()

    def _build_model(self, keras: Any) -> Any:
        p = self.params
        model = keras.Sequential(
            [
                keras.Input(shape=(p["window"], 1)),
                keras.layers.LSTM(p["units"]),
                keras.layers.Dense(1),
            ]
        )
        model.compile(optimizer=keras.optimizers.Adam(p["learning_rate"]), loss="mse")
        return model

    def _callbacks(self, keras: Any, ctx: FitContext) -> list[Any]:
        callbacks: list[Any] = [_progress_callback(keras, ctx, self.params["epochs"])]
        if self.params["patience"]:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    patience=self.params["patience"], restore_best_weights=True
                )
            )
        return callbacks

    def _set_residual_quantiles(self, x_val: np.ndarray, t_val: np.ndarray) -> None:
        predicted = self._predict_batch(x_val)
        residuals = (t_val - predicted) * self.scale  # back to price units
        self.quantiles = {
            str(q): float(np.quantile(residuals, q))
            for pair in QUANTILES.values()
            for q in pair
        }

    # -- inference --------------------------------------------------------
    def _compile_inference(self) -> None:
        import tensorflow as tf

        window = self.params["window"]
        model = self.model
        self._step = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec((1, window, 1), tf.float32)],
            reduce_retracing=True,
        )

    def _predict_batch(self, x: np.ndarray) -> np.ndarray:
        # Validation set only, once per fit: a direct call, no predict() pipeline.
        out = self.model(x[:, :, None].astype(np.float32), training=False)
        return np.asarray(out, dtype=np.float64)[:, 0]

    def _forecast(
        self, h: int, level: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        window = self.history.astype(np.float32).copy()
        scaled = np.empty(h)
        for i in range(h):
            value = float(self._step(window[None, :, None])[0, 0])
            scaled[i] = value
            window = np.append(window[1:], np.float32(value))
        path = scaled * self.scale + self.center
        mean = (
            self.last_value + np.cumsum(path)
            if self.params["target"] == "diff"
            else path
        )
        low_q, high_q = QUANTILES[level]
        spread = np.sqrt(np.arange(1, h + 1))
        lower = mean + self.quantiles[str(low_q)] * spread
        upper = mean + self.quantiles[str(high_q)] * spread
        return mean, lower, upper

    def _one_step(self, y_next: np.ndarray) -> np.ndarray:
        # Window j: the fitted history followed by the first j new bars.
        p = self.params
        levels = np.concatenate(([self.last_value], y_next))
        z_new = np.diff(levels) if p["target"] == "diff" else y_next
        seq = np.concatenate((self.history, (z_new - self.center) / self.scale))
        windows = np.lib.stride_tricks.sliding_window_view(seq, p["window"])
        value = self._predict_batch(np.ascontiguousarray(windows)) * self.scale
        value += self.center
        return levels + value if p["target"] == "diff" else value

    # -- artefact ---------------------------------------------------------
    def _dump(self) -> tuple[dict[str, Any], dict[str, bytes]]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.keras"
            self.model.save(path)
            keras_bytes = path.read_bytes()
        state = {
            "center": self.center,
            "scale": self.scale,
            "last_value": self.last_value,
            "quantiles": self.quantiles,
        }
        members = {
            "model.keras": keras_bytes,
            "state.npz": npz_bytes(history=self.history),
        }
        return state, members

    def _restore(self, state: dict[str, Any], members: Mapping[str, bytes]) -> None:
        quiet_tensorflow()
        import keras

        self.center = float(state["center"])
        self.scale = float(state["scale"])
        self.last_value = float(state["last_value"])
        self.quantiles = {str(k): float(v) for k, v in state["quantiles"].items()}
        try:
            self.history = npz_load(members["state.npz"])["history"]
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "model.keras"
                path.write_bytes(members["model.keras"])
                self.model = keras.saving.load_model(
                    path, compile=False, safe_mode=True
                )
        except (KeyError, ValueError, OSError) as exc:
            raise ArtefactError(f"keras model is unreadable: {exc}") from exc
        self._compile_inference()


def _progress_callback(keras: Any, ctx: FitContext, epochs: int) -> Any:
    """Report each finished epoch; abort training when the caller cancels."""

    class EpochProgress(keras.callbacks.Callback):
        def on_epoch_end(
            self, epoch: int, logs: Mapping[str, Any] | None = None
        ) -> None:
            if ctx.on_epoch is not None:
                ctx.on_epoch(epoch + 1, epochs)
            ctx.check_cancel()

    return EpochProgress()


def quiet_tensorflow() -> None:
    """Silence TF's C++ INFO banner; only effective before tensorflow is imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

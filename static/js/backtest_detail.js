// Backtest and sweep pages: reload once the job's status fragment (pushed over
// /ws/me/ or polled) turns final, then draw the charts from json_script data.
// SVG plotly traces only (scatter, candlestick, heatmap): no eval under the CSP.
(function () {
  "use strict";
  const DARK = {
    paper_bgcolor: "#171e26", plot_bgcolor: "#171e26", font: { color: "#e6edf3" },
    margin: { l: 70, r: 20, t: 10, b: 40 }, showlegend: false,
  };
  const AXIS = { gridcolor: "#2a3541" };
  const OPTIONS = { responsive: true, displaylogo: false };

  function readJson(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function reloadWhenFinal() {
    const area = document.getElementById("job-area");
    if (!area || area.dataset.renderedFinal === "1") return;
    const status = area.querySelector(".job-status");
    if (status && status.dataset.final === "1") {
      area.dataset.renderedFinal = "1";
      window.location.reload();
    }
  }

  function drawBacktest(config) {
    const equity = document.getElementById("equity-chart");
    if (equity) {
      Plotly.newPlot(equity, [{
        type: "scatter", mode: "lines", name: "equity", x: config.equity.time,
        y: config.equity.equity, line: { color: "#4c9aff", width: 1.5 },
      }], { ...DARK, xaxis: { ...AXIS, type: "date" }, yaxis: { ...AXIS, title: { text: "equity" } } }, OPTIONS);
      equity.dataset.points = String(config.equity.time.length);
    }
    const dd = document.getElementById("drawdown-chart");
    if (dd) {
      Plotly.newPlot(dd, [{
        type: "scatter", mode: "lines", fill: "tozeroy", name: "drawdown", x: config.equity.time,
        y: config.equity.drawdown.map((v) => v * 100), line: { color: "#ef5350", width: 1 },
      }], { ...DARK, xaxis: { ...AXIS, type: "date" }, yaxis: { ...AXIS, title: { text: "drawdown %" } } }, OPTIONS);
    }
    const price = document.getElementById("price-chart");
    if (price && config.prices) {
      const p = config.prices;
      const traces = [{
        type: "candlestick", name: config.symbol, x: p.time, open: p.open, high: p.high,
        low: p.low, close: p.close, increasing: { line: { color: "#3fb68b" } },
        decreasing: { line: { color: "#ef5350" } },
      }, {
        type: "scatter", mode: "markers", name: "entries", x: config.entries.time, y: config.entries.price,
        text: config.entries.side.map((s) => (s > 0 ? "long entry" : "short entry")),
        marker: {
          size: 11, line: { width: 1, color: "#e6edf3" },
          symbol: config.entries.side.map((s) => (s > 0 ? "triangle-up" : "triangle-down")),
          color: config.entries.side.map((s) => (s > 0 ? "#4c9aff" : "#f0b429")),
        },
      }, {
        type: "scatter", mode: "markers", name: "exits", x: config.exits.time, y: config.exits.price,
        text: config.exits.reason.map((r, i) => `exit (${r}), profit ${config.exits.profit[i].toFixed(2)}`),
        marker: { size: 9, symbol: "x", color: "#e6edf3" },
      }];
      Plotly.newPlot(price, traces, {
        ...DARK, xaxis: { ...AXIS, type: "date", rangeslider: { visible: false } },
        yaxis: { ...AXIS, title: { text: "price" } },
      }, OPTIONS);
      price.dataset.trades = String(config.entries.time.length);
    }
  }

  // One colour range for both sides, so equal colours mean equal values.
  const HEAT = [[0, "#ef5350"], [0.5, "#f0b429"], [1, "#3fb68b"]];

  function drawHeatmaps(config) {
    const values = [...config.is.flat(), ...config.oos.flat()].filter((v) => v !== null);
    const zmin = Math.min(...values);
    const zmax = Math.max(...values);
    for (const side of ["is", "oos"]) {
      const holder = document.getElementById(`heatmap-${side}`);
      if (!holder) continue;
      Plotly.newPlot(holder, [{
        type: "heatmap", x: config.x.map(String), y: config.y.map(String), z: config[side],
        colorscale: HEAT, zmin, zmax, hoverongaps: false,
        colorbar: { title: { text: config.metric } },
      }], {
        ...DARK, margin: { l: 60, r: 10, t: 30, b: 50 },
        title: { text: side === "is" ? "in-sample" : "out-of-sample", font: { size: 13 } },
        xaxis: { ...AXIS, title: { text: config.x_name }, type: "category" },
        yaxis: { ...AXIS, title: { text: config.y_name }, type: "category" },
      }, OPTIONS);
    }
  }

  document.addEventListener("htmx:wsAfterMessage", reloadWhenFinal);
  document.addEventListener("htmx:afterSwap", reloadWhenFinal);
  document.addEventListener("DOMContentLoaded", () => {
    reloadWhenFinal();
    if (typeof Plotly === "undefined") return;
    const backtest = readJson("backtest-chart-config");
    if (backtest) drawBacktest(backtest);
    const heat = readJson("sweep-heatmap-config");
    if (heat) drawHeatmaps(heat);
  });
})();

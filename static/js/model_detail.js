// Model page: reload once the status fragment (pushed over /ws/me/ or polled)
// shows training has ended, so metrics and chart appear; draw the forecast
// chart from json_script data. SVG plotly traces only: no eval under the CSP.
(function () {
  "use strict";
  const DARK = {
    paper_bgcolor: "#171e26", plot_bgcolor: "#171e26", font: { color: "#e6edf3" },
    margin: { l: 70, r: 20, t: 10, b: 40 }, showlegend: true,
    legend: { orientation: "h", y: -0.15 },
  };
  const AXIS = { gridcolor: "#2a3541" };
  const ms = (t) => t.map((s) => new Date(s * 1000).toISOString());
  const readJson = (id) => {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  };

  function band(time, lower, upper, color, name, showlegend) {
    return [
      { type: "scatter", mode: "lines", x: time, y: lower, line: { width: 0 }, hoverinfo: "skip", showlegend: false, legendgroup: name },
      { type: "scatter", mode: "lines", x: time, y: upper, fill: "tonexty", fillcolor: color, line: { width: 0 }, name, legendgroup: name, showlegend },
    ];
  }

  function draw(config) {
    const holder = document.getElementById("forecast-chart");
    if (!holder || !window.Plotly) return;
    const wf = config.walk_forward;
    const traces = [{
      type: "scatter", mode: "lines", name: "actual close", x: ms(wf.time), y: wf.actual,
      line: { color: "#e6edf3", width: 1.2 },
    }];
    wf.folds.forEach((fold, i) => {
      const t = ms(fold.time);
      traces.push(...band(t, fold.lower, fold.upper, "rgba(76,154,255,0.18)", "walk-forward interval", i === 0));
      traces.push({
        type: "scatter", mode: "lines", x: t, y: fold.mean, name: "walk-forward forecast",
        legendgroup: "wf", showlegend: i === 0, line: { color: "#4c9aff", width: 1.5 },
      });
    });
    const f = config.forecast;
    if (f.time.length) {
      const t = ms(f.time);
      traces.push(...band(t, f.lower, f.upper, "rgba(240,180,41,0.18)", "latest forecast interval", true));
      traces.push({ type: "scatter", mode: "lines", x: t, y: f.mean, name: "latest forecast", line: { color: "#f0b429", width: 1.5 } });
      traces.push({ type: "scatter", mode: "markers", x: t, y: f.actual, name: "actual (scored)", marker: { color: "#3fb68b", size: 5 } });
    }
    Plotly.newPlot(holder, traces, {
      ...DARK, xaxis: { ...AXIS, type: "date" }, yaxis: { ...AXIS, title: { text: config.symbol } },
    }, { responsive: true, displaylogo: false });
    holder.dataset.folds = String(wf.folds.length);
    holder.dataset.forecastPoints = String(f.time.length);
    holder.dataset.forecastFirst = String(f.time[0]);
  }

  function reloadWhenTrainingEnds() {
    const area = document.getElementById("model-area");
    if (!area) return;
    const status = area.querySelector(".job-status");
    if (!status) return;
    const before = area.dataset.renderedStatus;
    const busy = before === "queued" || before === "training";
    if (busy && status.dataset.final === "1") {
      area.dataset.renderedStatus = status.dataset.status;
      window.location.reload();
    } else {
      area.dataset.renderedStatus = status.dataset.status;
    }
  }

  // htmx does not swap 4xx answers: show their text (e.g. "already training").
  document.addEventListener("htmx:responseError", (event) => {
    const box = document.getElementById("model-action-error");
    if (!box) return;
    box.textContent = event.detail.xhr.responseText || "The request failed.";
    box.hidden = false;
  });
  document.addEventListener("htmx:beforeRequest", () => {
    const box = document.getElementById("model-action-error");
    if (box) box.hidden = true;
  });
  // A forecast pushed (or polled) into the predictions fragment joins the chart.
  function redrawWithLatestForecast() {
    const config = readJson("model-chart-config");
    const latest = readJson("model-forecast-data");
    const holder = document.getElementById("forecast-chart");
    if (!config || !latest || !holder) return;
    if (holder.dataset.forecastPoints === String(latest.time.length)
        && holder.dataset.forecastFirst === String(latest.time[0])) return;
    config.forecast = latest;
    draw(config);
  }

  document.addEventListener("htmx:afterSettle", redrawWithLatestForecast);
  document.addEventListener("htmx:wsAfterMessage", () => window.setTimeout(redrawWithLatestForecast, 0));
  document.addEventListener("htmx:afterSwap", reloadWhenTrainingEnds);
  document.addEventListener("htmx:oobAfterSwap", reloadWhenTrainingEnds);
  document.addEventListener("htmx:wsAfterMessage", reloadWhenTrainingEnds);
  document.addEventListener("DOMContentLoaded", () => {
    const config = readJson("model-chart-config");
    if (config) draw(config);
  });
})();

// Asset page: candles from the API drawn as a plotly candlestick with volume.
// SVG traces only (no WebGL), so the page runs under a CSP without 'unsafe-eval'.
(function () {
  "use strict";
  const MAX_BARS = 20000;

  function status(text) {
    const el = document.getElementById("chart-status");
    if (el) el.textContent = text;
  }

  async function fetchCandles(config) {
    const rows = [];
    let url = `/api/market/assets/${encodeURIComponent(config.symbol)}/candles/?timeframe=${config.timeframe}&limit=5000`;
    if (config.start) url += `&start=${encodeURIComponent(config.start)}`;
    if (config.end) url += `&end=${encodeURIComponent(config.end)}`;
    while (url && rows.length < MAX_BARS) {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`candles request failed (${response.status})`);
      const page = await response.json();
      rows.push(...page.results);
      url = page.next;
    }
    return rows;
  }

  async function lastBarTime(config) {
    const response = await fetch(`/api/market/assets/${encodeURIComponent(config.symbol)}/`, { credentials: "same-origin" });
    const asset = await response.json();
    const series = asset.timeframes.find((s) => s.timeframe === config.timeframe);
    return series ? new Date(series.last) : null;
  }

  async function draw() {
    const holder = document.getElementById("price-chart");
    const configEl = document.getElementById("chart-config");
    if (!holder || !configEl || typeof Plotly === "undefined") return;
    const config = JSON.parse(configEl.textContent);
    try {
      if (config.days) {
        const last = config.end ? new Date(config.end) : await lastBarTime(config);
        if (last) config.start = new Date(last.getTime() - config.days * 86400000).toISOString();
      }
      const rows = await fetchCandles(config);
      if (!rows.length) { status("No candles in this range."); return; }
      const time = rows.map((r) => r.time);
      const candles = {
        type: "candlestick", name: config.symbol, x: time,
        open: rows.map((r) => r.open), high: rows.map((r) => r.high),
        low: rows.map((r) => r.low), close: rows.map((r) => r.close),
        increasing: { line: { color: "#3fb68b" } }, decreasing: { line: { color: "#ef5350" } },
        yaxis: "y2",
      };
      const volume = {
        type: "bar", name: "volume", x: time, y: rows.map((r) => r.volume),
        marker: { color: "rgba(76,154,255,0.35)" }, yaxis: "y",
      };
      const layout = {
        paper_bgcolor: "#171e26", plot_bgcolor: "#171e26", font: { color: "#e6edf3" },
        margin: { l: 60, r: 20, t: 10, b: 40 }, showlegend: false, dragmode: "zoom",
        xaxis: { rangeslider: { visible: false }, gridcolor: "#2a3541", type: "date" },
        yaxis: { domain: [0, 0.2], gridcolor: "#2a3541", title: { text: "volume" } },
        yaxis2: { domain: [0.25, 1], gridcolor: "#2a3541", title: { text: "price" } },
      };
      await Plotly.newPlot(holder, [volume, candles], layout, { responsive: true, displaylogo: false });
      holder.dataset.bars = String(rows.length);
      status(`${rows.length} bars, ${time[0].slice(0, 16).replace("T", " ")} to ${time[time.length - 1].slice(0, 16).replace("T", " ")} UTC.`);
    } catch (error) {
      status(`Could not load the chart: ${error.message}`);
    }
  }

  // The bar being formed moves live: the feed's fragment carries it as data-bar-*.
  function followLiveBar() {
    const holder = document.getElementById("price-chart");
    const configEl = document.getElementById("chart-config");
    if (!holder || !holder.data || !configEl) return;
    const config = JSON.parse(configEl.textContent);
    const el = document.getElementById(`live-${config.symbol}`);
    if (!el || !el.dataset.barTime || el.dataset.barTimeframe !== config.timeframe) return;
    const candles = holder.data[1];
    const time = new Date(el.dataset.barTime).toISOString().replace(".000Z", "Z");
    const bar = ["Open", "High", "Low", "Close"].map((k) => parseFloat(el.dataset[`bar${k}`]));
    const last = candles.x.length - 1;
    const lastTime = last >= 0 ? new Date(candles.x[last]).getTime() : null;
    if (lastTime === new Date(time).getTime()) {
      [candles.open[last], candles.high[last], candles.low[last], candles.close[last]] = bar;
    } else if (lastTime === null || new Date(time).getTime() > lastTime) {
      candles.x.push(time);
      candles.open.push(bar[0]); candles.high.push(bar[1]);
      candles.low.push(bar[2]); candles.close.push(bar[3]);
    } else {
      return; // a replay that looped back to an earlier bar than the chart shows
    }
    Plotly.redraw(holder);
    holder.dataset.liveBar = time;
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("aaiti:live-updated", followLiveBar);
})();

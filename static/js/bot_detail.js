// Bot page: the equity curve (after each fill) as an SVG plotly line.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", () => {
    const el = document.getElementById("bot-equity-chart");
    const data = document.getElementById("equity-data");
    if (!el || !data || !window.Plotly) return;
    const curve = JSON.parse(data.textContent);
    window.Plotly.newPlot(
      el,
      [{ x: curve.time, y: curve.equity, type: "scatter", mode: "lines+markers", name: "equity" }],
      { margin: { t: 10, r: 10, b: 40, l: 60 }, height: 260, yaxis: { title: { text: "equity" } } },
      { responsive: true, displaylogo: false },
    );
  });
})();

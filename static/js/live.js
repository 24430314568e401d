// Live prices over /ws/prices/ (htmx ws extension swaps each pushed fragment by id).
// Every fragment carries its symbol's sequence number; on a gap (a message the
// channel layer dropped) the fragment is refetched over HTTP so the page is never
// left showing an old price as if it were current.
(function () {
  "use strict";
  const lastSeq = {};

  function remember(root) {
    (root || document).querySelectorAll(".live-price[data-symbol]").forEach((el) => {
      const seq = parseInt(el.dataset.seq, 10);
      if (!Number.isNaN(seq)) lastSeq[el.dataset.symbol] = seq;
    });
  }

  async function refetch(symbol) {
    const el = document.getElementById(`live-${symbol}`);
    if (!el || !el.dataset.refetch) return;
    const response = await fetch(el.dataset.refetch, { credentials: "same-origin" });
    if (!response.ok) return;
    el.outerHTML = await response.text();
    remember();
  }

  document.addEventListener("htmx:wsBeforeMessage", (event) => {
    const match = /data-symbol="([^"]+)" data-seq="(\d+)"/.exec(event.detail.message || "");
    if (!match) return;
    const symbol = match[1];
    const seq = parseInt(match[2], 10);
    const previous = lastSeq[symbol];
    if (previous !== undefined && seq <= previous) {
      event.preventDefault(); // an older message arriving late: keep the newer price
      return;
    }
    if (previous !== undefined && seq !== previous + 1) {
      window.setTimeout(() => refetch(symbol), 0);
    }
    lastSeq[symbol] = seq;
  });

  document.addEventListener("htmx:wsAfterMessage", () => {
    document.dispatchEvent(new CustomEvent("aaiti:live-updated"));
  });

  document.addEventListener("DOMContentLoaded", () => remember());
})();

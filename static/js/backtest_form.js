// Backtest and sweep forms: show only the chosen strategy's parameter fields.
// Without JavaScript every field stays visible (labelled by strategy) and the
// server reads only the chosen strategy's.
(function () {
  "use strict";

  function update(form) {
    const select = form.querySelector("[data-strategy-select]");
    if (!select) return;
    form.querySelectorAll("[data-strategy]").forEach((input) => {
      const field = input.closest(".field") || input;
      const shown = input.dataset.strategy === select.value;
      field.hidden = !shown;
      input.disabled = !shown;
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("form.strategy-form").forEach((form) => {
      update(form);
      const select = form.querySelector("[data-strategy-select]");
      if (select) select.addEventListener("change", () => update(form));
    });
  });
})();

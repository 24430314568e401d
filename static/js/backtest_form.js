// Backtest and sweep forms: show only the chosen strategy's parameter fields (a
// model-driven strategy's model and refit fields included).
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

  // The model select offers only the models of the chosen symbol and timeframe.
  function filterModels(form) {
    const models = form.querySelector("[data-model-select]");
    if (!models) return;
    const symbol = form.querySelector("[name=symbol]");
    const timeframe = form.querySelector("[name=timeframe]");
    models.querySelectorAll("option[data-symbol]").forEach((option) => {
      const match =
        (!symbol || option.dataset.symbol === symbol.value) &&
        (!timeframe || option.dataset.timeframe === timeframe.value);
      option.hidden = !match;
      option.disabled = !match;
      if (!match && option.selected) models.value = "";
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("form.strategy-form").forEach((form) => {
      update(form);
      filterModels(form);
      const select = form.querySelector("[data-strategy-select]");
      if (select) select.addEventListener("change", () => update(form));
      form.querySelectorAll("[name=symbol], [name=timeframe]").forEach((input) =>
        input.addEventListener("change", () => filterModels(form)),
      );
    });
  });
})();

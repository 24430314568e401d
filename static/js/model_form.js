// Model form: show only the chosen algorithm's parameter fields. Without
// JavaScript every field stays visible (labelled by algorithm) and the server
// reads only the chosen algorithm's.
(function () {
  "use strict";

  function update(form) {
    const select = form.querySelector("[data-algorithm-select]");
    if (!select) return;
    form.querySelectorAll("[data-algorithm]").forEach((input) => {
      const field = input.closest(".field") || input;
      const shown = input.dataset.algorithm === select.value;
      field.hidden = !shown;
      input.disabled = !shown;
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("form.algorithm-form").forEach((form) => {
      update(form);
      const select = form.querySelector("[data-algorithm-select]");
      if (select) select.addEventListener("change", () => update(form));
    });
  });
})();

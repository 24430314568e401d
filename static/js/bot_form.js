// Bot form: render the chosen strategy's parameter fields from the strategies'
// declarations (json_script "strategies-data"); values posted as param_<name>.
// Without JavaScript no parameter field shows and the server uses the defaults.
(function () {
  "use strict";

  function readJSON(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function render(box, strategy, values) {
    box.replaceChildren();
    if (!strategy) return;
    // Paper bots are long-only: the short side is not offered.
    strategy.params.filter((p) => p.name !== "allow_short").forEach((p) => {
      const field = document.createElement("div");
      field.className = "field";
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.name = `param_${p.name}`;
      input.id = `id_param_${p.name}`;
      input.dataset.testid = `param-${p.name}`;
      label.htmlFor = input.id;
      label.textContent = p.help ? `${p.name} (${p.help})` : p.name;
      const value = values && p.name in values ? values[p.name] : p.default;
      if (p.type === "bool") {
        input.type = "checkbox";
        input.value = "true";
        input.checked = Boolean(value);
      } else {
        input.type = "number";
        input.step = p.type === "int" ? "1" : "any";
        if (p.min !== null) input.min = p.min;
        if (p.max !== null) input.max = p.max;
        input.value = value;
      }
      field.append(label, input);
      box.append(field);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("bot-form");
    const box = document.getElementById("strategy-params");
    const strategies = readJSON("strategies-data") || [];
    const initial = readJSON("params-data") || {};
    if (!form || !box) return;
    const select = form.querySelector("select[name=strategy]");
    const field = select.closest(".field");
    if (field) field.after(box);  // the parameters right under their strategy
    const find = () => strategies.find((s) => s.name === select.value);
    const first = select.value;
    render(box, find(), initial);
    select.addEventListener("change", () => render(box, find(), select.value === first ? initial : {}));
  });
})();

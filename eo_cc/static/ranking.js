// Ranked questions without duplicate ranks: choosing a rank another candidate holds swaps the
// two, so reordering is one change. The ballot works the same without this script.
document.querySelectorAll("[data-ranking]").forEach(function (group) {
  var selects = Array.prototype.slice.call(group.querySelectorAll("select"));
  selects.forEach(function (select) {
    select.dataset.previous = select.value;
    select.addEventListener("change", function () {
      selects.forEach(function (other) {
        if (other !== select && select.value && other.value === select.value) {
          other.value = select.dataset.previous;
          other.dataset.previous = other.value;
        }
      });
      select.dataset.previous = select.value;
    });
  });
});

/* The diagnoses field of the conclusion form (consults/detail.html). A file of its own, not
   inline: the Content-Security-Policy allows scripts from 'self' only.
   A picked suggestion comes back as the field again, with the code in place of the words typed
   (HTMX swaps it and focuses it); the caret goes to the end, ready for the next code. */
(function () {
  "use strict";
  document.addEventListener("htmx:load", function (event) {
    var root = event.detail && event.detail.elt;
    // Only the field swapped in after a pick; never on the page's first load, where focus
    // belongs to whatever the page chose (an error summary, say).
    if (!root || (root.id !== "diagnoses-field" && root.id !== "id_diagnoses")) return;
    var field = root.id === "id_diagnoses" ? root : root.querySelector("#id_diagnoses");
    if (!field) return;
    // Focus here rather than wait for autofocus, which may come after this event.
    field.focus();
    var end = field.value.length;
    field.setSelectionRange(end, end);
  });
})();

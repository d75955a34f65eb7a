/* The request form (consults/new.html). A file of its own, not inline: the
   Content-Security-Policy allows scripts from 'self' only.
   - The form NEWS2 suggests is chosen for the clinician until they choose one themselves.
   - The error summary takes the focus, so a screen reader and a thumb start there.
   - A banner says when the hub cannot be reached; the autosave keeps trying until it can.
   - Photos chosen show as thumbnails before they are sent. */
(function () {
  "use strict";
  var form = document.getElementById("request-form");
  if (!form) return;

  var summary = form.querySelector(".error-summary");
  if (summary) summary.focus();

  // A choice already on the form (kept after an error, or from a draft) is the clinician's.
  var chosenByHand = !!form.querySelector('input[name="form"]:checked');
  form.addEventListener("change", function (event) {
    if (event.isTrusted && event.target.name === "form") chosenByHand = true;
  });

  function preselect() {
    if (chosenByHand) return;
    var box = document.getElementById("news2");
    var wanted = box ? box.getAttribute("data-suggested") : "";
    if (!wanted) return;
    var radio = form.querySelector('input[name="form"][value="' + wanted + '"]');
    if (!radio || radio.checked) return;
    radio.checked = true;
    // Not a trusted event: the choice stays NEWS2's, and the autosave keeps it.
    radio.dispatchEvent(new Event("change", { bubbles: true }));
  }

  var banner = document.getElementById("link-banner");
  var autosave = document.getElementById("autosave");
  var retry = null;
  function linkDown() {
    if (banner) banner.hidden = false;
    if (!retry && autosave && window.htmx) {
      retry = window.setInterval(function () {
        window.htmx.trigger(autosave, "autosave-retry");
      }, 10000);
    }
  }
  function linkUp() {
    if (banner) banner.hidden = true;
    if (retry) {
      window.clearInterval(retry);
      retry = null;
    }
  }
  document.body.addEventListener("htmx:sendError", linkDown);
  document.body.addEventListener("htmx:timeout", linkDown);
  document.body.addEventListener("htmx:responseError", function (event) {
    var status = event.detail && event.detail.xhr ? event.detail.xhr.status : 0;
    if (status === 502 || status === 503 || status === 504) linkDown();
  });
  document.body.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail && event.detail.successful) linkUp();
  });
  document.body.addEventListener("htmx:afterSettle", preselect);
  preselect();

  var photos = form.querySelector('input[name="photos"]');
  var shelf = document.getElementById("photo-thumbnails");
  if (photos && shelf && window.URL && URL.createObjectURL) {
    photos.addEventListener("change", function () {
      shelf.textContent = "";
      Array.prototype.forEach.call(photos.files || [], function (file) {
        if (!/^image\//.test(file.type)) return;
        var image = document.createElement("img");
        image.src = URL.createObjectURL(file);
        image.alt = file.name;
        image.width = 96;
        image.height = 96;
        image.addEventListener("load", function () {
          URL.revokeObjectURL(image.src);
        });
        shelf.appendChild(image);
      });
    });
  }
})();

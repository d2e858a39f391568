/* i2v dashboard: progressive enhancement only; every page works without this file.
   Sends the session's CSRF token with htmx requests, previews the chosen picture (with
   drag and drop), copies captions, and keeps a form from being sent twice. */
(function () {
  "use strict";

  var token = document.querySelector('meta[name="csrf-token"]');

  // htmx requests carry the CSRF token in a header (forms carry it in a hidden field).
  document.addEventListener("htmx:configRequest", function (event) {
    if (token) {
      event.detail.headers["X-CSRF-Token"] = token.content;
    }
  });

  // Controls that only work with JavaScript are hidden until it runs.
  function showScripted(root) {
    root.querySelectorAll("[data-js-only]").forEach(function (element) {
      element.hidden = false;
    });
  }
  showScripted(document);
  document.addEventListener("htmx:load", function (event) {
    showScripted(event.detail.elt.parentNode || document);
  });

  // The picture: a preview of the chosen file, a size check, and drag and drop.
  var preview = document.getElementById("preview");
  var status = document.getElementById("picture-status");
  var inputs = ["image", "camera"].map(function (id) {
    return document.getElementById(id);
  }).filter(Boolean);
  var previewUrl = null;

  function choose(input) {
    var file = input.files && input.files[0];
    inputs.forEach(function (other) {
      if (other !== input && file) {
        other.value = "";  // one picture: the other input's choice is dropped
      }
    });
    if (!file || !preview) {
      return;
    }
    var limit = Number(input.dataset.maxBytes || 0);
    var tooBig = limit && file.size > limit;
    input.setCustomValidity(tooBig ? "This picture is larger than the server takes." : "");
    if (status) {
      status.textContent = tooBig
        ? "This picture is larger than the server takes: pick a smaller one."
        : "Chosen: " + file.name;
    }
    if (previewUrl) {
      URL.revokeObjectURL(previewUrl);
    }
    previewUrl = URL.createObjectURL(file);
    preview.src = previewUrl;
    preview.hidden = false;
  }

  inputs.forEach(function (input) {
    input.addEventListener("change", function () { choose(input); });
  });

  document.querySelectorAll("[data-drop]").forEach(function (zone) {
    var input = zone.querySelector('input[type="file"]');
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("over");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      var files = event.dataTransfer && event.dataTransfer.files;
      if (input && files && files.length) {
        input.files = files;
        choose(input);
      }
    });
  });

  // Copy buttons: data-copy names the field whose text they copy.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) {
      return;
    }
    var id = button.getAttribute("data-copy");
    var field = document.getElementById(id);
    var said = document.querySelector('[data-copy-status="' + id + '"]');
    if (!field) {
      return;
    }
    function told(text) {
      if (said) {
        said.textContent = text;
      }
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(
        function () { told("Copied."); },
        function () { told("Could not copy: select the text and copy it."); }
      );
    } else {
      field.select();
      told(document.execCommand("copy") ? "Copied." : "Select the text and copy it.");
    }
  });

  // A form is sent once: its submit button says it is busy until the next page.
  document.addEventListener("submit", function (event) {
    var button = event.target.querySelector("button[data-busy]");
    if (button && event.submitter === button) {
      window.setTimeout(function () {
        button.dataset.label = button.textContent;
        button.disabled = true;
        button.textContent = button.getAttribute("data-busy");
      }, 0);
    }
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("button[data-busy]:disabled").forEach(function (button) {
      button.disabled = false;
      button.textContent = button.dataset.label || button.textContent;
    });
  });
})();

// The submission page's live progress: poll the progress fragment every 3 s while a job runs,
// reload when it has finished. Loaded as a file (the Content-Security-Policy allows no inline
// script); the box names its own fragment URL in data-progress-url.
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box) { return; }
  var url = box.getAttribute("data-progress-url");
  function poll() {
    fetch(url, {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        if (html.indexOf("data-finished") !== -1) { window.location.reload(); return; }
        box.innerHTML = html;
        window.setTimeout(poll, 3000);
      });
  }
  window.setTimeout(poll, 3000);
})();

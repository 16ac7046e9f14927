/* 工作日历 (/admin/calendar): the upload of the file `calendar load` reads. The file chosen in
 * #admin-calendar-upload is read here as text and posted as {text} to the calendar's API (through
 * MinshengSteps.post: CSRF header, Idempotency-Key); what happened is said, and the section
 * re-rendered, by the /admin page's own script (MinshengAdmin). Words come from the page. */
(function () {
  "use strict";
  document.addEventListener("change", function (ev) {
    var input = ev.target;
    if (!input || input.type !== "file" || !input.closest || !input.closest("#admin-calendar-upload")) { return; }
    var file = input.files && input.files[0];
    var el = document.getElementById("admin-config");
    if (!file || !el || !window.MinshengAdmin) { return; }
    ev.stopPropagation();  // not Dash's upload: the file goes to the API, not into a callback
    var cfg = JSON.parse(el.getAttribute("data-config"));
    var reader = new FileReader();
    reader.onload = function () {
      MinshengSteps.post("/api/v1/admin/calendar/file?lang=" + cfg.lang, {text: String(reader.result)}, cfg.lang)
        .then(function (answer) {
          if (!answer.ok) {
            var error = (answer.json && answer.json.error) || {};
            MinshengAdmin.message(MinshengLive.format(cfg.text.failed, {message: error.message || answer.status}), true);
            return;
          }
          MinshengAdmin.message(cfg.text.saved, false);
          MinshengAdmin.refresh();
        });
      input.value = "";
    };
    reader.readAsText(file, "utf-8");
  }, true);
})();

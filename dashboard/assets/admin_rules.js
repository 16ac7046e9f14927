/* 时限规则 (/admin/rules): "preview" hands the form's fields to the server (admin-rules-draft),
 * which re-judges last week's tickets under them; saving is admin.js's form post. */
(function () {
  "use strict";
  var asked = 0;
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest ? ev.target.closest("#admin-rules-preview-button") : null;
    var form = document.getElementById("admin-rules-form");
    if (!button || !form || !window.dash_clientside) { return; }
    var draft = {};
    Array.prototype.forEach.call(form.elements, function (input) {
      if (input.name && input.type !== "submit" && input.type !== "button") { draft[input.name] = input.value; }
    });
    asked += 1;
    draft.asked = asked;  // the same fields again are asked again
    window.dash_clientside.set_props("admin-rules-draft", {data: draft});
  });
})();

/* 平台管理 (/admin): posts the sections' forms and buttons to /api/v1/admin/<section>/… through
 * MinshengSteps.post (CSRF header, Idempotency-Key), says what happened, shows a secret the
 * answer carries once (``once``: {label, value}), and re-renders the section from the database
 * (the Dash callback behind admin-refresh). Markup: a form or button with data-admin-post="<url>",
 * a button's body in data-body (JSON), an optional question in data-confirm. The words come
 * from the page (#admin-config), never from here. */
(function () {
  "use strict";
  var refreshes = 0;

  function config() {
    var el = document.getElementById("admin-config");
    try { return el ? JSON.parse(el.getAttribute("data-config")) : null; } catch (e) { return null; }
  }

  function message(text, bad) {
    var el = document.getElementById("admin-message");
    if (el) { el.textContent = text; el.className = "work-message admin-message" + (bad ? " work-message-bad" : ""); }
  }

  function refresh() {
    refreshes += 1;
    MinshengLive.setProps("admin-refresh", {data: refreshes}, "admin-section");  // a Store: no element
  }

  // A secret the platform keeps no copy of: shown here until closed, with a copy button.
  function showOnce(once, cfg) {
    // Outside Dash's tree (React would put back what it rendered), like the dialogs.
    var box = document.getElementById("admin-once");
    if (!box) {
      box = document.createElement("div");
      box.id = "admin-once"; box.className = "admin-once"; box.setAttribute("role", "alert");
      document.body.appendChild(box);
    }
    box.innerHTML = "";
    var head = document.createElement("p");
    head.className = "admin-once-head";
    head.textContent = (once.label ? once.label + " · " : "") + cfg.text.once;
    var value = document.createElement("input");
    value.type = "text"; value.readOnly = true; value.value = once.value; value.id = "admin-once-value";
    value.className = "admin-once-value";
    var copy = document.createElement("button");
    copy.type = "button"; copy.className = "step step-primary"; copy.textContent = cfg.text.copy;
    copy.onclick = function () {
      value.select();
      var done = function () { copy.textContent = cfg.text.copied; };
      if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(once.value).then(done, done); }
      else { try { document.execCommand("copy"); } catch (e) { /* selected: the user copies it */ } done(); }
    };
    var close = document.createElement("button");
    close.type = "button"; close.className = "step"; close.textContent = cfg.text.close; close.id = "admin-once-close";
    close.onclick = function () { box.hidden = true; box.innerHTML = ""; };
    box.appendChild(head); box.appendChild(value); box.appendChild(copy); box.appendChild(close);
    box.hidden = false;
    value.focus(); value.select();
  }

  function ask(question, cfg, then) {
    if (!question) { then(); return; }
    var dialog = document.getElementById("admin-dialog");
    if (!dialog) {
      dialog = document.createElement("dialog");
      dialog.id = "admin-dialog"; dialog.className = "work-dialog";
      document.body.appendChild(dialog);
    }
    dialog.innerHTML = "";
    var text = document.createElement("p");
    text.textContent = question;
    var buttons = document.createElement("div");
    buttons.className = "dialog-buttons";
    var cancel = document.createElement("button");
    cancel.type = "button"; cancel.className = "step"; cancel.textContent = cfg.text.cancel;
    cancel.onclick = function () { dialog.close(); };
    var ok = document.createElement("button");
    ok.type = "button"; ok.className = "step step-primary"; ok.textContent = cfg.text.confirm; ok.id = "admin-dialog-ok";
    ok.onclick = function () { dialog.close(); then(); };
    buttons.appendChild(cancel); buttons.appendChild(ok);
    dialog.appendChild(text); dialog.appendChild(buttons);
    dialog.showModal();
  }

  function send(url, body, source, cfg) {
    source.setAttribute("aria-busy", "true");
    var sep = url.indexOf("?") < 0 ? "?" : "&";
    MinshengSteps.post(url + sep + "lang=" + cfg.lang, body, cfg.lang).then(function (answer) {
      source.removeAttribute("aria-busy");
      if (!answer.ok) {
        var error = (answer.json && answer.json.error) || {};
        message(MinshengLive.format(cfg.text.failed, {message: error.message || answer.status}), true);
        return;
      }
      message(answer.json.message || cfg.text.saved, false);
      if (answer.json.once) { showOnce(answer.json.once, cfg); }
      if (source.tagName === "FORM") { source.reset(); }
      refresh();
    }).catch(function (err) {
      source.removeAttribute("aria-busy");
      message(MinshengLive.format(cfg.text.failed, {message: String(err)}), true);
    });
  }

  function fields(form) {
    var body = {};
    Array.prototype.forEach.call(form.elements, function (input) {
      if (!input.name || input.type === "submit" || input.type === "button") { return; }
      if (input.type === "checkbox") { body[input.name] = input.checked; return; }
      if (input.value !== "") { body[input.name] = input.value; }
    });
    return body;
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.matches || !form.matches("form[data-admin-post]")) { return; }
    ev.preventDefault();
    var cfg = config();
    if (!cfg) { return; }
    var body = fields(form);
    ask(form.getAttribute("data-confirm"), cfg, function () { send(form.getAttribute("data-admin-post"), body, form, cfg); });
  });

  document.addEventListener("click", function (ev) {
    var button = ev.target.closest ? ev.target.closest("button[data-admin-post]") : null;
    if (!button) { return; }
    var cfg = config();
    if (!cfg) { return; }
    var body = {};
    try { body = JSON.parse(button.getAttribute("data-body") || "{}"); } catch (e) { body = {}; }
    ask(button.getAttribute("data-confirm"), cfg, function () { send(button.getAttribute("data-admin-post"), body, button, cfg); });
  });

  window.MinshengAdmin = {refresh: refresh, message: message};
})();

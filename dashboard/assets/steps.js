/* A ticket's steps from a screen (the queues, the ticket page): the dialog that asks what a
 * step needs, and the POST to /api/v1/tickets/<number>/<step> with the row's version and an
 * Idempotency-Key. The words come from the page's config (config.text), never from here. */
(function () {
  "use strict";
  var FIELDS = {  // what each step asks for, in its dialog
    dispatch: [["unit", "unit"], ["note", "text"]], pass_down: [["unit", "unit"], ["note", "text"]],
    "return": [["reason", "textarea"]], contact: [["note", "textarea"]], report: [["result", "textarea"]],
    send_back: [["reason", "textarea"]], reply: [["text", "textarea"]], close: [["findings", "textarea"]],
    request_extension: [["hours", "number"], ["reason", "textarea"]],
    decide_extension: [["approve", "checkbox"], ["note", "text"]], merge: [["into", "text"]],
    unmerge: [["reason", "textarea"]],
    acknowledge: [["note", "textarea"]], order: [["note", "textarea"]], remind: [["text", "textarea"]]
  };
  var REQUIRED = {unit: 1, reason: 1, result: 1, text: 1, findings: 1, hours: 1, into: 1};

  function text(config, key, params) { return MinshengLive.format(config.text[key] || key, params || {}); }

  function dialogFor(step, row, config, done) {
    var dialog = document.getElementById("queue-dialog");
    if (!dialog) {
      dialog = document.createElement("dialog");
      dialog.id = "queue-dialog";
      dialog.className = "work-dialog";
      document.body.appendChild(dialog);
    }
    dialog.innerHTML = "";
    var form = document.createElement("form");
    form.method = "dialog";
    var head = document.createElement("h2");
    head.textContent = (config.text.steps[step] || step) + " · " + row.number;
    form.appendChild(head);
    var title = document.createElement("p");
    title.className = "dialog-title";
    title.textContent = row.title;
    form.appendChild(title);
    var inputs = {};
    (FIELDS[step] || []).forEach(function (f) {
      var name = f[0], kind = f[1], box = document.createElement("label");
      box.className = "dialog-field";
      box.appendChild(document.createTextNode(config.text.fields[name] || name));
      var input;
      if (kind === "unit") {
        input = document.createElement("select");
        units(step, row, config).forEach(function (u) {
          var o = document.createElement("option");
          o.value = u.code;
          o.textContent = u.name + " (" + u.code + ")" + (u.code === row.proposed_unit ? " · " + text(config, "proposal") : "");
          if (u.code === row.proposed_unit) { o.selected = true; }
          input.appendChild(o);
        });
      } else if (kind === "textarea") {
        input = document.createElement("textarea");
        input.rows = 3;
      } else {
        input = document.createElement("input");
        input.type = kind;
        if (kind === "number") { input.min = "0.5"; input.max = "75"; input.step = "0.5"; input.value = "7.5"; }
      }
      input.name = name;
      if (row.prefill && row.prefill[name]) { input.value = row.prefill[name]; }  // e.g. an order's text
      if (REQUIRED[name] && kind !== "checkbox") { input.required = true; }
      box.appendChild(input);
      form.appendChild(box);
      inputs[name] = input;
    });
    var buttons = document.createElement("div");
    buttons.className = "dialog-buttons";
    var ok = document.createElement("button");
    ok.type = "submit";
    ok.className = "step step-primary";
    ok.textContent = text(config, "confirm");
    var cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "step";
    cancel.textContent = text(config, "cancel");
    cancel.onclick = function () { dialog.close(); };
    buttons.appendChild(cancel);
    buttons.appendChild(ok);
    form.appendChild(buttons);
    form.onsubmit = function (ev) {
      ev.preventDefault();
      var body = {};
      Object.keys(inputs).forEach(function (name) {
        var input = inputs[name];
        if (input.type === "checkbox") { body[name] = input.checked; }
        else if (input.type === "number") { body[name] = Number(input.value); }
        else if (input.value) { body[name] = input.value; }
      });
      dialog.close();
      done(body);
    };
    dialog.appendChild(form);
    dialog.showModal();
  }

  function units(step, row, config) {
    var all = config.units || [];
    if (step === "pass_down") {  // to the units under the one holding it
      return all.filter(function (u) { return u.parent === row.unit_code; });
    }
    return all;
  }

  // The session's CSRF token, which the platform sets as a cookie this page may read
  // (dashboard/security.py); Dash's own callbacks send the same cookie in the same header.
  function csrfToken() {
    var m = document.cookie.match(/(?:^|;\s*)_csrf_token=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function post(url, body, lang) {
    var key = window.crypto && window.crypto.randomUUID ? window.crypto.randomUUID() :
      String(Date.now()) + Math.random().toString(16).slice(2);
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Idempotency-Key": key, "Accept-Language": lang,
                "X-CSRFToken": csrfToken()},
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (json) { return {ok: r.ok, status: r.status, json: json}; });
    });
  }

  function ask(step, row, config, done) {
    if (FIELDS[step]) { dialogFor(step, row, config, done); } else { done({}); }
  }

  function send(step, row, body, config, then) {
    body.version = row.version;
    post("/api/v1/tickets/" + encodeURIComponent(row.number) + "/" + step + "?lang=" + config.lang, body, config.lang)
      .then(function (answer) {
        if (answer.ok) { then(true, false, text(config, "saved", {step: config.text.steps[step]}), answer.json); return; }
        var error = answer.json.error || {};
        if (error.code === "stale_version") { then(false, true, text(config, "stale", {number: row.number})); return; }
        then(false, false, text(config, "failed", {message: error.message || answer.status}));
      })
      .catch(function (err) { then(false, false, text(config, "failed", {message: String(err)})); });
  }

  window.MinshengSteps = {ask: ask, send: send, post: post};
})();

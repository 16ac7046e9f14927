/* Time left on a ticket's clock, counted in the browser from the deadline instants the
 * server sends (so the server pushes changes, never ticks): the contact clock on the wall
 * clock, the resolve clock in working time (the page's working periods). Shared by the
 * work queues (queue.js), the duty console (duty.js) and the countdown cell renderer.
 * A screen hands its page config over once: MinshengClock.use(config). */
(function () {
  "use strict";
  var C = window.MinshengClock = {config: null};

  C.use = function (config) { C.config = config; };

  function text(key, params) { return MinshengLive.format(C.config.text[key] || key, params || {}); }

  function workingMs(from, to) {  // working time between two instants, from the page's periods
    var total = 0;
    C.config.working.forEach(function (p) {
      var a = Math.max(from, Date.parse(p[0])), b = Math.min(to, Date.parse(p[1]));
      if (b > a) { total += b - a; }
    });
    return total;
  }
  function inWorkingHours(now) {
    return C.config.working.some(function (p) { return now >= Date.parse(p[0]) && now < Date.parse(p[1]); });
  }
  C.span = function (ms) {
    var s = Math.floor(Math.abs(ms) / 1000), h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60);
    var days = Math.floor(h / 24);
    var hm = (h % 24) + ":" + String(m).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
    return days ? text("days", {days: days}) + " " + hm : hm;
  };
  /* {state: none | ok | amber | breached, ms: time left (negative: late), text, paused} */
  C.of = function (row, now) {
    if (!row.due_at) { return {state: "none", ms: Infinity, text: text("no_deadline"), paused: false}; }
    var due = Date.parse(row.due_at), warn = row.warn_at ? Date.parse(row.warn_at) : due;
    var working = row.clock === "resolve";
    var ms = due > now ? (working ? workingMs(now, due) : due - now) : -(working ? workingMs(due, now) : now - due);
    var state = now >= due ? "breached" : now >= warn ? "amber" : "ok";
    // A working-time clock stands still outside working hours: say so, or a frozen figure looks broken.
    return {state: state, ms: ms, text: text(ms >= 0 ? "left" : "late", {time: C.span(ms)}),
            paused: working && !inWorkingHours(now)};
  };
})();

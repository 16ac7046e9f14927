/* 每周通报 (/bulletin): meeting mode. One page (section.bulletin-page) at a time, full screen,
 * in large type: ← → step through the pages, ↑ ↓ move the highlight to the unit (row) under
 * discussion in the page's table, Esc (or leaving full screen) ends it. */
(function () {
  "use strict";
  var B = window.MinshengBulletin = {on: false, page: 0, row: -1};

  function pages() { return Array.prototype.slice.call(document.querySelectorAll(".bulletin-page")); }
  function show() {
    pages().forEach(function (p, i) { p.classList.toggle("bulletin-current", i === B.page); });
    B.row = -1;
  }
  function grid(then) {
    var page = pages()[B.page], el = page && page.querySelector("[id^='bulletin-grid-']");
    if (el && window.dash_ag_grid) { window.dash_ag_grid.getApiAsync(el.id).then(then); }
  }
  function highlight(step) {
    grid(function (api) {
      var n = api.getDisplayedRowCount();
      if (!n) { return; }
      B.row = Math.max(0, Math.min(n - 1, B.row + step));
      var node = api.getDisplayedRowAtIndex(B.row);
      api.deselectAll();
      node.setSelected(true);
      api.ensureIndexVisible(B.row, "middle");
    });
  }
  function start() {
    B.on = true;
    B.page = 0;
    document.body.classList.add("bulletin-meeting");
    show();
    if (document.documentElement.requestFullscreen) {
      document.documentElement.requestFullscreen().catch(function () { /* a browser that refuses: still paged */ });
    }
  }
  function stop() {
    B.on = false;
    document.body.classList.remove("bulletin-meeting");
    pages().forEach(function (p) { p.classList.remove("bulletin-current"); });
    if (document.fullscreenElement && document.exitFullscreen) { document.exitFullscreen(); }
  }
  document.addEventListener("click", function (ev) {
    if (ev.target && ev.target.id === "bulletin-meeting") { start(); }
  });
  document.addEventListener("keydown", function (ev) {
    if (!B.on) { return; }
    var last = pages().length - 1;
    if (ev.key === "ArrowRight" || ev.key === "PageDown") { B.page = Math.min(last, B.page + 1); show(); }
    else if (ev.key === "ArrowLeft" || ev.key === "PageUp") { B.page = Math.max(0, B.page - 1); show(); }
    else if (ev.key === "ArrowDown") { highlight(1); }
    else if (ev.key === "ArrowUp") { highlight(-1); }
    else if (ev.key === "Escape") { stop(); }
    else { return; }
    ev.preventDefault();
  });
  document.addEventListener("fullscreenchange", function () { if (!document.fullscreenElement && B.on) { stop(); } });
})();

// Audience Bridge console behaviour that HTML alone cannot give. No inline
// scripts anywhere: the Content-Security-Policy forbids them.
(function () {
  "use strict";

  // Close a flash message.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest(".flash-close");
    if (btn) {
      var flash = btn.closest(".flash");
      if (flash) flash.remove();
    }
  });

  // Toasts disappear by themselves; errors stay until closed.
  function scheduleToasts(root) {
    root.querySelectorAll(".toast-region .flash:not(.flash-error)").forEach(function (el) {
      if (el.dataset.timer) return;
      el.dataset.timer = "1";
      setTimeout(function () { el.remove(); }, 6000);
    });
  }

  // Menus built on <details>: close on Escape or a click elsewhere, and give
  // focus back to the button that opened them.
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Escape") return;
    document.querySelectorAll("details.menu[open]").forEach(function (d) {
      d.removeAttribute("open");
      var s = d.querySelector("summary");
      if (s) s.focus();
    });
  });
  document.addEventListener("click", function (ev) {
    document.querySelectorAll("details.menu[open]").forEach(function (d) {
      if (!d.contains(ev.target)) d.removeAttribute("open");
    });
  });

  // Ask before destructive actions: <form data-confirm="..."> .
  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) ev.preventDefault();
  }, true);

  document.addEventListener("DOMContentLoaded", function () { scheduleToasts(document); });
  document.addEventListener("htmx:afterSettle", function () { scheduleToasts(document); });
})();

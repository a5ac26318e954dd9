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

  // A modal dialog keeps the focus: the rest of the page is inert, but
  // Chromium's Tab still leaves the dialog for the browser's own controls.
  // Tab past the last control comes back to the first, Shift+Tab past the
  // first goes to the last. The dialog that holds the focus, or else the
  // last one opened, is the one on top.
  function focusables(root) {
    return Array.prototype.filter.call(
      root.querySelectorAll("a[href], button, input, select, textarea, [tabindex]"),
      function (el) {
        return !el.disabled && el.type !== "hidden" && el.tabIndex >= 0 && el.getClientRects().length > 0;
      });
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Tab" || ev.defaultPrevented) return;
    var d = ev.target.closest && ev.target.closest("dialog[open]");
    if (!d) {
      var open = document.querySelectorAll("dialog[open]");
      d = open[open.length - 1];
    }
    if (!d || !d.matches(":modal")) return;
    var items = focusables(d);
    if (items.length === 0) { ev.preventDefault(); return; }
    var first = items[0], last = items[items.length - 1], active = document.activeElement;
    var inside = d.contains(active) && active !== d;
    if (ev.shiftKey && (active === first || !inside)) {
      ev.preventDefault();
      last.focus();
    } else if (!ev.shiftKey && (active === last || !inside)) {
      ev.preventDefault();
      first.focus();
    }
  });

  document.addEventListener("DOMContentLoaded", function () { scheduleToasts(document); });
  document.addEventListener("htmx:afterSettle", function () { scheduleToasts(document); });
})();

// The picker "Select a shared audience" (views/components/picker.go has the
// contract). A button with data-picker-url opens it in a modal dialog; on
// Confirm the fields named <data-picker-target>Sid, ...Name, ...Description
// and ...DataSourceId of the button's form are filled (those that exist) and
// the button receives "audience:selected" with the audience as detail.
(function () {
  "use strict";

  var state = { dialog: null, opener: null, selected: null };
  var FIELDS = { Sid: "sid", Name: "name", Description: "description", DataSourceId: "dataSourceId" };

  function dialog() {
    if (state.dialog) return state.dialog;
    var d = document.createElement("dialog");
    d.id = "picker-dialog";
    d.className = "dialog dialog-picker";
    d.setAttribute("aria-modal", "true");
    d.setAttribute("aria-labelledby", "picker-title");
    d.setAttribute("data-testid", "picker-dialog");
    d.addEventListener("keydown", onKey);
    d.addEventListener("cancel", function (ev) { ev.preventDefault(); close(); });
    d.addEventListener("close", onClosed);
    document.body.appendChild(d);
    state.dialog = d;
    return d;
  }

  function open(opener) {
    var d = dialog();
    if (d.open) return;
    state.opener = opener;
    state.selected = null;
    opener.setAttribute("aria-busy", "true");
    htmx.ajax("GET", opener.getAttribute("data-picker-url"), { source: opener, target: d, swap: "innerHTML" }).then(function () {
      opener.removeAttribute("aria-busy");
      // A refusal leaves the dialog empty; its toast says why.
      if (!d.querySelector(".picker") || d.open) return;
      d.showModal();
      sync();
      var search = d.querySelector("[data-picker-search]");
      if (search) search.focus();
    }, function () { opener.removeAttribute("aria-busy"); });
  }

  // The focus goes back to the button that opened the picker.
  function refocus() {
    var opener = state.opener;
    if (opener && document.body.contains(opener)) opener.focus();
  }

  function close() {
    if (state.dialog && state.dialog.open) state.dialog.close();
    refocus();
  }

  // After the dialog closed, however it was: empty it, so that its ids leave
  // the page.
  function onClosed() {
    refocus();
    state.dialog.replaceChildren();
    state.opener = null;
    state.selected = null;
  }

  function audienceOf(box) {
    return {
      sid: Number(box.value),
      name: box.getAttribute("data-name") || "",
      description: box.getAttribute("data-description") || "",
      dataSourceId: Number(box.getAttribute("data-data-source-id")),
      size: Number(box.getAttribute("data-size")),
      collecting: box.getAttribute("data-collecting") === "true"
    };
  }

  // sync draws the selection: one checkbox at most, Confirm enabled only
  // with one, and says what is selected. A row the server marks
  // data-preselect (the segment just created) becomes the selection.
  function sync() {
    var d = state.dialog;
    if (!d || !d.open) return;
    var pre = d.querySelector("input[data-pick][data-preselect]");
    if (pre) {
      pre.removeAttribute("data-preselect");
      state.selected = audienceOf(pre);
      pre.focus();
    }
    d.querySelectorAll("input[data-pick]").forEach(function (box) {
      box.checked = state.selected !== null && box.value === String(state.selected.sid);
    });
    var confirm = d.querySelector("[data-picker-confirm]");
    if (confirm) confirm.disabled = state.selected === null;
    var label = d.querySelector("[data-picker-selection]");
    if (label) label.textContent = state.selected ? "Selected: " + state.selected.name : "No audience selected";
    if (!d.contains(document.activeElement) || document.activeElement === d) {
      var next = d.querySelector('[aria-invalid="true"]') || d.querySelector("[data-picker-search]");
      if (next) next.focus();
    }
  }

  function field(scope, name) {
    if (scope.elements) {
      var f = scope.elements.namedItem(name);
      return f && f.length !== undefined && !f.tagName ? f[0] : f;
    }
    return document.getElementsByName(name)[0] || null;
  }

  function confirmSelection() {
    var chosen = state.selected, opener = state.opener;
    if (!chosen || !opener) return;
    var prefix = opener.getAttribute("data-picker-target") || "";
    var scope = opener.form || opener.closest("form") || document;
    Object.keys(FIELDS).forEach(function (suffix) {
      var f = field(scope, prefix + suffix);
      if (!f) return;
      f.value = String(chosen[FIELDS[suffix]]);
      f.dispatchEvent(new Event("input", { bubbles: true }));
      f.dispatchEvent(new Event("change", { bubbles: true }));
    });
    close();
    opener.dispatchEvent(new CustomEvent("audience:selected", { bubbles: true, detail: chosen }));
  }

  // Close on Escape, the picker only when it is over another dialog (the
  // focus stays inside it: the console's modal dialogs keep it).
  function onKey(ev) {
    if (ev.key !== "Escape") return;
    ev.preventDefault();
    ev.stopPropagation();
    close();
  }

  document.addEventListener("click", function (ev) {
    var opener = ev.target.closest("[data-picker-url]");
    if (opener) {
      ev.preventDefault();
      open(opener);
      return;
    }
    var d = state.dialog;
    if (!d || !d.open) return;
    if (ev.target === d || ev.target.closest("[data-picker-close]")) close();
    else if (ev.target.closest("[data-picker-confirm]")) confirmSelection();
  });

  document.addEventListener("change", function (ev) {
    var box = ev.target;
    if (!state.dialog || !box.matches || !box.matches("input[data-pick]") || !state.dialog.contains(box)) return;
    state.selected = box.checked ? audienceOf(box) : null;
    sync();
  });

  // A host that only wants to go to the chosen audience says where with
  // data-picker-navigate="/path/{sid}".
  document.addEventListener("audience:selected", function (ev) {
    var to = ev.target.getAttribute && ev.target.getAttribute("data-picker-navigate");
    if (to && !ev.defaultPrevented) window.location.assign(to.replace("{sid}", encodeURIComponent(ev.detail.sid)));
  });

  // After Load more, carry on from the first new row; and redraw the
  // picker's selection after any of its fragments changed.
  document.addEventListener("htmx:afterSettle", function () {
    var next = document.querySelector("[data-focus-after-load]");
    if (next) {
      next.removeAttribute("data-focus-after-load");
      next.focus();
    }
    sync();
  });
})();

// The "Create a shared audience…" window: on confirming an audience, fill
// Label and Description when still empty and choose the AMC data source
// whose AAM Data source ID is the audience's, then ask for the preview.
(function () {
  "use strict";

  document.addEventListener("audience:selected", function (ev) {
    var form = ev.target.closest && ev.target.closest("[data-shared-audience-form]");
    if (!form) return;
    var a = ev.detail || {};
    var label = form.elements.namedItem("label");
    if (label && !label.value.trim()) label.value = a.name || "";
    var desc = form.elements.namedItem("description");
    if (desc && !desc.value.trim()) desc.value = a.description || "";
    var ds = form.elements.namedItem("dataSource");
    var hint = document.getElementById("field-dataSource-hint");
    if (ds) {
      var match = Array.prototype.find.call(ds.options, function (o) {
        return o.value && o.getAttribute("data-aam-id") === String(a.dataSourceId);
      });
      if (match) {
        ds.value = match.value;
        if (hint) hint.textContent = "Chosen for you: its AAM Data source ID is the audience's (" + a.dataSourceId + ").";
      } else if (hint) {
        hint.textContent = "No AMC data source has the audience's AAM Data source ID (" + a.dataSourceId + "): choose the one that reads its identifiers.";
      }
    }
    document.body.dispatchEvent(new CustomEvent("audience:completed", { bubbles: true }));
  });
})();

// Workflows: the activity dialog, the condition rows, and dropping an
// activity from the palette onto the diagram.
(function () {
  "use strict";
  var opener = null;

  function dialog() { return document.getElementById("activity-dialog"); }

  // A node's hx-get fills the dialog; once it has content, show it modal
  // (the rest of the page is inert, Escape closes it).
  document.addEventListener("htmx:afterSwap", function (ev) {
    var d = dialog();
    if (!d || ev.detail.target !== d) return;
    if (!d.open && d.firstElementChild) {
      d.showModal();
      var first = d.querySelector("input:not([type=hidden]):not([readonly]):not([disabled]), select, textarea");
      if (first) first.focus();
    }
  });
  document.addEventListener("click", function (ev) {
    var open = ev.target.closest("[data-dialog-open]");
    if (open) opener = open;
    if (ev.target.closest("[data-dialog-close]")) {
      var d = ev.target.closest("dialog");
      if (d) d.close();
    }
    var remove = ev.target.closest("[data-remove-row]");
    if (remove) {
      var row = remove.closest(".cond-row");
      if (row) row.remove();
      document.body.dispatchEvent(new CustomEvent("conditions-changed", { bubbles: true }));
    }
  });
  document.addEventListener("close", function (ev) {
    if (ev.target !== dialog()) return;
    ev.target.replaceChildren();
    if (opener && document.contains(opener)) opener.focus();
  }, true);
  // A saved dialog closes; the diagram and the history redraw themselves.
  document.addEventListener("workflow-saved", function () {
    var d = dialog();
    if (d && d.open) d.close();
  });
  document.addEventListener("change", function (ev) {
    if (!ev.target.matches || !ev.target.matches("[data-redraw-row]")) return;
    var row = ev.target.closest(".cond-row");
    if (row && window.htmx) window.htmx.trigger(row, "redraw");
  });

  // Drag and drop from the palette; a click on the item does the same.
  document.addEventListener("dragstart", function (ev) {
    var item = ev.target.closest && ev.target.closest("[data-activity]");
    if (!item || !ev.dataTransfer) return;
    ev.dataTransfer.setData("text/plain", item.getAttribute("data-activity"));
    ev.dataTransfer.effectAllowed = "copy";
  });
  document.addEventListener("dragover", function (ev) {
    var canvas = ev.target.closest && ev.target.closest("[data-drop-url]");
    if (!canvas) return;
    ev.preventDefault();
    canvas.classList.add("drop-target");
  });
  document.addEventListener("dragleave", function (ev) {
    var canvas = ev.target.closest && ev.target.closest("[data-drop-url]");
    if (canvas && !canvas.contains(ev.relatedTarget)) canvas.classList.remove("drop-target");
  });
  document.addEventListener("drop", function (ev) {
    var canvas = ev.target.closest && ev.target.closest("[data-drop-url]");
    if (!canvas || !ev.dataTransfer) return;
    ev.preventDefault();
    canvas.classList.remove("drop-target");
    var activity = ev.dataTransfer.getData("text/plain");
    if (!activity || !window.htmx) return;
    var target = document.getElementById("workflow-canvas") || canvas;
    window.htmx.ajax("POST", canvas.getAttribute("data-drop-url"), { target: target, swap: "outerHTML", values: { activity: activity } });
  });
})();

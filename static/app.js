// Junction's own script: small progressive enhancements. Everything works without it.
(function () {
  "use strict";

  // Connector Selection Page: narrow the tiles as you type, keep the section headings,
  // and move through the live tiles from the keyboard.
  function setUpConnectorFilter() {
    var input = document.querySelector("[data-connector-filter]");
    if (!input) return;
    var status = document.getElementById("filter-status");
    var tiles = Array.prototype.slice.call(document.querySelectorAll("[data-tile]"));
    var sections = Array.prototype.slice.call(document.querySelectorAll("[data-section]"));

    function visibleLiveTiles() {
      return Array.prototype.slice
        .call(document.querySelectorAll("[data-tile]:not([hidden]) [data-live-tile]"));
    }

    function apply() {
      var needle = input.value.trim().toLowerCase();
      var shown = 0;
      tiles.forEach(function (tile) {
        var match = !needle || tile.getAttribute("data-title").toLowerCase().indexOf(needle) !== -1;
        tile.hidden = !match;
        if (match) shown += 1;
      });
      sections.forEach(function (section) {
        var any = section.querySelector("[data-tile]:not([hidden])");
        var none = section.querySelector("[data-no-match]");
        if (none) none.hidden = !!any;
      });
      if (status) {
        status.textContent = needle
          ? shown + (shown === 1 ? " connector matches" : " connectors match")
          : "";
      }
    }

    input.addEventListener("input", apply);
    input.addEventListener("keydown", function (event) {
      var live = visibleLiveTiles();
      if (event.key === "Enter" && live.length > 0) {
        event.preventDefault();
        live[0].click();
      } else if (event.key === "ArrowDown" && live.length > 0) {
        event.preventDefault();
        live[0].focus();
      }
    });
    document.addEventListener("keydown", function (event) {
      var target = event.target;
      var typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable);
      if (event.key === "/" && !typing) {
        event.preventDefault();
        input.focus();
        input.select();
        return;
      }
      if (!target || !target.hasAttribute || !target.hasAttribute("data-live-tile")) return;
      var live = visibleLiveTiles();
      var index = live.indexOf(target);
      if (event.key === "ArrowDown" || event.key === "ArrowRight") {
        event.preventDefault();
        if (index < live.length - 1) live[index + 1].focus();
      } else if (event.key === "ArrowUp" || event.key === "ArrowLeft") {
        event.preventDefault();
        if (index > 0) live[index - 1].focus(); else input.focus();
      } else if (event.key === "Escape") {
        input.focus();
      }
    });
    apply();
  }

  // Buttons that start an htmx request say so while it runs (Test Connection and Test Query
  // wait on TUNE). They stay focusable, so the keyboard user keeps their place: `disabled` would
  // drop the focus to the page. A second press while busy is ignored instead.
  function busyButton(element) {
    if (!element || !element.matches) return null;
    return element.matches("button") ? element : element.querySelector("button[type=submit]");
  }

  function setUpBusyStates() {
    document.addEventListener("htmx:beforeRequest", function (event) {
      var button = busyButton(event.detail.elt);
      if (!button) return;
      if (button.getAttribute("aria-busy") === "true") {
        event.preventDefault();
        return;
      }
      button.setAttribute("aria-busy", "true");
      button.setAttribute("aria-disabled", "true");
    });
    document.addEventListener("htmx:afterRequest", function (event) {
      var button = busyButton(event.detail.elt);
      if (button) {
        button.removeAttribute("aria-busy");
        button.removeAttribute("aria-disabled");
      }
    });
  }

  // htmx drops error responses; one that names where it goes (HX-Retarget: the server's toast
  // for an unavailable database or an unexpected error) is shown, replacing an earlier one.
  function setUpErrorToasts() {
    document.addEventListener("htmx:beforeSwap", function (event) {
      var xhr = event.detail.xhr;
      if (xhr.status >= 400 && xhr.getResponseHeader("HX-Retarget")) {
        document.querySelectorAll(".toast").forEach(function (toast) { toast.remove(); });
        event.detail.shouldSwap = true;
        event.detail.isError = false;
      }
    });
    document.addEventListener("click", function (event) {
      var button = event.target.closest && event.target.closest("[data-dismiss-toast]");
      if (button) button.closest(".toast").remove();
    });
  }

  // After a form comes back with errors, take the user to the summary.
  function focusErrorSummary() {
    var summary = document.querySelector(".error-summary");
    if (summary) summary.focus();
  }

  // Connections list: "Select all on this page" ticks every row, and the bulk bar says how
  // many are ticked. Delegated, since searching and paging replace the table.
  function setUpBulkSelection() {
    function update() {
      var count = document.querySelector("[data-bulk-count]");
      if (!count) return;
      var rows = document.querySelectorAll("[data-row-select]");
      var ticked = document.querySelectorAll("[data-row-select]:checked").length;
      var all = document.querySelector("[data-select-matching]");
      var page = document.querySelector("[data-select-page]");
      if (page) page.checked = rows.length > 0 && ticked === rows.length;
      if (all && all.checked) {
        count.textContent = "All matching connections selected";
      } else {
        count.textContent = ticked ? ticked + " selected" : "";
      }
    }
    document.addEventListener("change", function (event) {
      var target = event.target;
      if (!target || !target.matches) return;
      if (target.matches("[data-select-page]")) {
        document.querySelectorAll("[data-row-select]").forEach(function (box) { box.checked = target.checked; });
      } else if (target.matches("[data-select-matching]") && target.checked) {
        document.querySelectorAll("[data-row-select]").forEach(function (box) { box.checked = true; });
      } else if (target.matches("[data-row-select]")) {
        var all = document.querySelector("[data-select-matching]");
        if (all && !target.checked) all.checked = false;
      } else if (!target.matches("[data-select-matching]")) {
        return;
      }
      update();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpBulkSelection();
    setUpConnectorFilter();
    setUpBusyStates();
    setUpErrorToasts();
    focusErrorSummary();
  });
})();

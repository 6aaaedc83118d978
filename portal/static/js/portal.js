/*
 * portal.js — progressive enhancement for sas-portal. No framework, no inline
 * script (CSP script-src 'self'); loaded with `defer` after htmx.
 *
 * Accessible combobox (ARIA 1.2 "editable combobox with list autocomplete"):
 *   <div data-combobox>
 *     <input role="combobox" aria-controls="LIST-ID" aria-expanded="false" …>
 *     <input type="hidden" data-combobox-value>
 *     <ul id="LIST-ID" role="listbox" hidden>
 *       <li role="option" id="…" data-value="47001" data-label="Agen (47000)"
 *           aria-selected="false">…</li>
 *
 * The listbox is replaced by htmx (outerHTML) while the user types, so every
 * handler is delegated on `document` and re-reads the DOM: option nodes are
 * never cached.
 *
 * Contract: picking an option sets input.value ← data-label and the hidden
 * [data-combobox-value] ← data-value, then fires `change` (bubbling) on the
 * hidden input and `combobox-picked` (bubbling, detail {value, label}) on the
 * text input. Typing clears the hidden value (the server resolves free text).
 */
(function () {
  "use strict";

  var BLUR_DELAY_MS = 150;

  /** Parts of the combobox containing `el`, freshly read, or null. */
  function parts(el) {
    var root = el && el.closest ? el.closest("[data-combobox]") : null;
    if (!root) return null;
    var input = root.querySelector('[role="combobox"]');
    if (!input) return null;
    return {
      input: input,
      list: document.getElementById(input.getAttribute("aria-controls")),
      hidden: root.querySelector("[data-combobox-value]"),
    };
  }

  function options(c) {
    return c.list ? Array.prototype.slice.call(c.list.querySelectorAll('[role="option"]')) : [];
  }

  function current(c) {
    return c.list ? c.list.querySelector('[role="option"][aria-selected="true"]') : null;
  }

  function highlight(c, opt) {
    options(c).forEach(function (o, i) {
      if (!o.id) o.id = c.list.id + "-" + i; // aria-activedescendant needs an id
      o.setAttribute("aria-selected", o === opt ? "true" : "false");
    });
    if (opt) {
      c.input.setAttribute("aria-activedescendant", opt.id);
      opt.scrollIntoView({ block: "nearest" });
    } else {
      c.input.removeAttribute("aria-activedescendant");
    }
  }

  function open(c) {
    if (!c.list || options(c).length === 0) return close(c);
    c.list.hidden = false;
    c.input.setAttribute("aria-expanded", "true");
  }

  function close(c) {
    if (c.list) {
      c.list.hidden = true;
      highlight(c, null);
    } else {
      c.input.removeAttribute("aria-activedescendant");
    }
    c.input.setAttribute("aria-expanded", "false");
  }

  function isOpen(c) {
    return !!c.list && !c.list.hidden;
  }

  /** Move the highlight by `delta` (+1/-1), wrapping; opens a closed list. */
  function move(c, delta) {
    var opts = options(c);
    if (opts.length === 0) return;
    var wasOpen = isOpen(c);
    open(c);
    var i = wasOpen ? opts.indexOf(current(c)) : -1;
    if (i === -1) i = delta > 0 ? 0 : opts.length - 1;
    else i = (i + delta + opts.length) % opts.length;
    highlight(c, opts[i]);
  }

  function pick(c, opt) {
    var value = opt.getAttribute("data-value") || "";
    var label = opt.getAttribute("data-label") || opt.textContent.trim();
    c.input.value = label;
    if (c.hidden) c.hidden.value = value;
    close(c);
    if (c.hidden) c.hidden.dispatchEvent(new Event("change", { bubbles: true }));
    c.input.dispatchEvent(
      new CustomEvent("combobox-picked", { bubbles: true, detail: { value: value, label: label } })
    );
  }

  /** After htmx replaced a listbox: show it only if useful and still wanted. */
  function sync() {
    document.querySelectorAll("[data-combobox]").forEach(function (root) {
      var c = parts(root.querySelector('[role="combobox"]'));
      if (!c) return;
      // A non-empty hidden value means an option was just picked and the text
      // not edited since: a late response must not re-open the list.
      var picked = c.hidden && c.hidden.value !== "";
      if (document.activeElement === c.input && !picked) open(c);
      else close(c);
      // Drop a stale aria-activedescendant pointing into a replaced list.
      var id = c.input.getAttribute("aria-activedescendant");
      var opt = id && document.getElementById(id);
      if (id && (!opt || opt.getAttribute("aria-selected") !== "true")) highlight(c, null);
    });
  }
  document.addEventListener("htmx:afterSwap", sync);
  document.addEventListener("htmx:afterSettle", sync);

  document.addEventListener("keydown", function (e) {
    if (e.isComposing || e.target.getAttribute("role") !== "combobox") return;
    var c = parts(e.target);
    if (!c) return;
    switch (e.key) {
      case "ArrowDown":
      case "ArrowUp":
        if (e.altKey) { open(c); } else { move(c, e.key === "ArrowDown" ? 1 : -1); }
        e.preventDefault(); // keep the caret where it is
        break;
      case "Enter":
        var opt = isOpen(c) ? current(c) : null;
        if (opt) { e.preventDefault(); pick(c, opt); } else { close(c); } // no highlight: submit
        break;
      case "Escape":
        if (isOpen(c)) { close(c); } else { c.input.value = ""; if (c.hidden) c.hidden.value = ""; }
        e.preventDefault();
        break;
    }
  });

  document.addEventListener("input", function (e) {
    var c = e.target.getAttribute && e.target.getAttribute("role") === "combobox" ? parts(e.target) : null;
    if (!c) return;
    if (c.hidden) c.hidden.value = "";
    if (c.input.value === "") close(c);
  });

  // mousedown (not click) with preventDefault keeps focus in the input, so the
  // list is not closed by blur first; also covers clicks on the list scrollbar.
  document.addEventListener("mousedown", function (e) {
    var list = e.target.closest && e.target.closest('[data-combobox] [role="listbox"]');
    if (!list) return;
    e.preventDefault();
    var opt = e.target.closest('[role="option"]');
    var c = parts(list);
    if (opt && c) pick(c, opt);
  });

  document.addEventListener("focusout", function (e) {
    if (!e.target.getAttribute || e.target.getAttribute("role") !== "combobox") return;
    var input = e.target;
    setTimeout(function () {
      var c = parts(input);
      if (c && document.activeElement !== c.input) close(c);
    }, BLUR_DELAY_MS);
  });
})();

/* htmx 2 does not swap error responses: let the portal's French error notices
   (sent with HX-Retarget) replace the target, so a failed request never stays silent. */
document.addEventListener("htmx:beforeSwap", function (event) {
  var xhr = event.detail.xhr;
  if (xhr.status >= 400 && xhr.getResponseHeader("HX-Retarget")) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

/* ---- search results: keyboard-first navigation, announcements, map parameters ----
 * Cards (li.result-card, tabindex=0) are a flat list for the keyboard: ArrowDown /
 * ArrowUp move to the next / previous visible card (CPTS members included when their
 * <details> is open), Home / End to the first / last. Slots are links: Enter opens one.
 * After each results swap the summary is copied into a persistent live region
 * (#resultats-annonce), so screen readers hear the new count. */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  function visibleCards() {
    return Array.prototype.slice
      .call(document.querySelectorAll("#resultats li.result-card"))
      .filter(function (c) {
        return c.getClientRects().length > 0 && !c.closest("details:not([open])");
      });
  }

  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey || e.isComposing) return;
    if (["ArrowDown", "ArrowUp", "Home", "End"].indexOf(e.key) === -1) return;
    var t = e.target;
    if (!t.closest || t.matches("input, select, textarea")) return;
    var card = t.closest("#resultats li.result-card");
    if (!card) return;
    if ((e.key === "Home" || e.key === "End") && t !== card) return;
    var list = visibleCards();
    // the innermost card holding the focus decides where "next" is
    var i = list.indexOf(card);
    var next = null;
    if (e.key === "ArrowDown") next = list[i + 1];
    else if (e.key === "ArrowUp") next = list[i - 1];
    else if (e.key === "Home") next = list[0];
    else next = list[list.length - 1];
    e.preventDefault();
    if (next) {
      next.focus();
      next.scrollIntoView({ block: "nearest" });
    }
  });

  var announced = "";
  function announce() {
    var region = document.getElementById("resultats-annonce");
    var section = document.getElementById("resultats");
    if (!region || !section) return;
    var source = section.querySelector(".results-summary, .notice.error p, .empty");
    var text = source ? source.textContent.replace(/\s+/g, " ").trim() : "";
    if (text && text !== announced) {
      announced = text;
      region.textContent = text;
    }
  }
  document.addEventListener("htmx:afterSettle", function (e) {
    if (e.target && e.target.id === "resultats") announce();
  });
  document.addEventListener("DOMContentLoaded", function () {
    var section = document.getElementById("resultats");
    var summary = section && section.querySelector(".results-summary");
    announced = summary ? summary.textContent.replace(/\s+/g, " ").trim() : "";
  });

  // A place typed or picked replaces a map search: drop the map's centre and radius.
  function dropMapParams(e) {
    if (!e.target.closest || !e.target.closest("[data-combobox]")) return;
    document.querySelectorAll("#recherche [data-map-param]").forEach(function (input) {
      input.remove();
    });
  }
  document.addEventListener("input", dropMapParams);
  document.addEventListener("combobox-picked", dropMapParams);
})();

/* A live slot refresh belongs to the results it was asked for (token data-jeton): a late
   answer for results replaced since must not put their calendars (unfiltered slots, say)
   into the new cards. Aborting the request instead would log htmx errors. */
document.addEventListener("htmx:oobBeforeSwap", function (event) {
  var fragment = event.detail.fragment;
  var node = fragment && (fragment.nodeType === 1 ? fragment : fragment.firstElementChild);
  var token = node && node.getAttribute("data-jeton");
  var results = document.getElementById("resultats");
  var current = results && results.getAttribute("data-jeton");
  if (token && current && token !== current) event.detail.shouldSwap = false;
});
/* The request element of a late answer has left the document, so its events no longer
   reach `document`: guard it directly. Not swapping also skips its out-of-band parts,
   whose cards may be gone (htmx would log oobErrorNoTarget). */
document.addEventListener("htmx:beforeRequest", function (event) {
  var elt = event.detail.elt;
  if (!elt || elt.id !== "actualisation" || elt.hasAttribute("data-guarded")) return;
  elt.setAttribute("data-guarded", "");
  elt.addEventListener("htmx:beforeSwap", function (e) {
    if (!elt.isConnected) e.detail.shouldSwap = false;
  });
});

// Small behaviours htmx does not cover. Everything else is server-rendered
// partials swapped by htmx (HTTP answers) and its ws extension (live events).
(function () {
  "use strict";

  function localTimes(root) {
    // Times are rendered in UTC on the server; show them in the viewer's zone.
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      if (el.dataset.localized) return;
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      var withDate = el.textContent.trim().length > 8;
      // In the page's language (<html lang>, the one the server picked).
      var lang = document.documentElement.lang || undefined;
      el.textContent = withDate ? when.toLocaleString(lang) : when.toLocaleTimeString(lang);
      el.title = when.toString();
      el.dataset.localized = "1";
    });
  }

  var followChat = true;

  function chatLog() { return document.getElementById("chat-log"); }

  function scrollChat() {
    var log = chatLog();
    if (log && followChat) log.scrollTop = log.scrollHeight;
  }

  // A message sent from this tab shows at once as "pending"; the stored copy
  // arrives over the WebSocket and removes it. If the stored copy won the race,
  // drop the pending one instead.
  function dropSettledPending(root) {
    root.querySelectorAll(".msg.pending[data-pending-run]").forEach(function (el) {
      var run = el.getAttribute("data-pending-run");
      if (document.querySelector('#chat-log .msg-user[data-run="' + CSS.escape(run) + '"]:not(.pending)')) el.remove();
    });
  }

  // A run this tab asked to stop stays "stopping" until it ends, even if a
  // late event of that run says it is running.
  document.addEventListener("htmx:oobBeforeSwap", function (evt) {
    var current = evt.detail.target;
    if (!current || current.id !== "run-status" || current.dataset.state !== "stopping") return;
    var next = evt.detail.fragment && evt.detail.fragment.firstElementChild;
    if (next && next.dataset.run === current.dataset.run && next.dataset.state === "running") {
      evt.detail.shouldSwap = false;
    }
  });

  // Panels re-rendered live keep the sections the reader had opened.
  var openBefore = {};
  document.addEventListener("htmx:oobBeforeSwap", function (evt) {
    var target = evt.detail.target;
    if (!target || !target.id) return;
    openBefore[target.id] = Array.from(target.querySelectorAll("details[open][id]")).map(function (d) { return d.id; });
  });
  document.addEventListener("htmx:oobAfterSwap", function (evt) {
    var target = evt.detail.target;
    var fresh = target && target.id ? document.getElementById(target.id) : null;
    if (fresh && openBefore[target.id]) {
      openBefore[target.id].forEach(function (id) {
        var d = document.getElementById(id);
        if (d) d.open = true;
      });
      delete openBefore[target.id];
    }
  });

  // A turn that failed before the message was stored leaves its bubble
  // "sending…": mark it not sent and give the text back to the composer.
  function settleFailedSends(root) {
    root.querySelectorAll("[data-failed-run]:not([data-settled])").forEach(function (el) {
      el.setAttribute("data-settled", "1");
      var pending = document.getElementById("pending-" + el.getAttribute("data-failed-run"));
      if (!pending) return;
      pending.classList.remove("pending");
      pending.classList.add("unsent");
      var meta = pending.querySelector(".meta");
      var composer = document.getElementById("composer");
      var unsent = (composer && composer.getAttribute("data-label-unsent")) ||
        "not sent: see the error below; your text is back in the box";
      if (meta) meta.textContent = unsent;
      var box = document.querySelector("textarea[data-enter-submits]");
      var bubble = pending.querySelector(".bubble");
      if (box && bubble && !box.value.trim()) box.value = bubble.textContent;
    });
  }

  function afterContent(root) {
    localTimes(root || document);
    dropSettledPending(document);
    settleFailedSends(document);
    scrollChat();
  }

  document.addEventListener("htmx:afterSettle", function (evt) { afterContent(evt.detail.elt); });
  document.addEventListener("htmx:wsAfterMessage", function () { afterContent(document); });

  // After a dropped connection, events sent meanwhile were missed: redraw
  // the chat and the context window from the server once reconnected.
  var opened = 0;
  // The socket is told which right-hand tab is open, so it only redraws
  // panels that are on the page (runs, blocks, files).
  var socket = null;
  function currentTab() {
    var active = document.querySelector("[data-server-tabs] a.active");
    return active ? new URL(active.href, location.href).searchParams.get("tab") : null;
  }
  function sayTab() {
    var tab = currentTab();
    if (socket && tab) socket.send(JSON.stringify({ tab: tab }));
  }
  document.addEventListener("htmx:wsOpen", function (evt) {
    socket = evt.detail.socketWrapper;
    sayTab();
    setLive("live", labelOf("live", "Live"));
    opened += 1;
    var ws = document.getElementById("workspace");
    if (opened > 1 && ws) {
      htmx.ajax("GET", ws.dataset.chatUrl, { target: "#chat-log", swap: "innerHTML" });
      htmx.ajax("GET", ws.dataset.contextUrl, { target: "#context-panel", swap: "outerHTML" });
    }
  });
  document.addEventListener("htmx:wsClose", function () { setLive("down", labelOf("down", "reconnecting…")); });
  // The page carries these words in its own language (data-label-*).
  function labelOf(state, fallback) {
    var el = document.getElementById("live-state");
    return (el && el.getAttribute("data-label-" + state)) || fallback;
  }
  function setLive(state, text) {
    var el = document.getElementById("live-state");
    if (!el) return;
    el.className = "live-state " + state;
    el.textContent = text;
  }

  // Send on Enter, new line on Shift+Enter; clear the composer once sent.
  document.addEventListener("keydown", function (evt) {
    var box = evt.target;
    if (!box.matches || !box.matches("textarea[data-enter-submits]")) return;
    if (evt.key === "Enter" && !evt.shiftKey && !evt.isComposing) {
      evt.preventDefault();
      if (box.value.trim()) box.form.requestSubmit();
    }
  });
  document.addEventListener("htmx:afterRequest", function (evt) {
    var form = evt.detail.elt;
    if (form.matches && form.matches("form[data-reset-on-success]")) {
      // A refusal (409/422) is swapped in like an answer, so htmx calls it
      // successful: only a 2xx empties the box, a refusal keeps the text.
      var status = evt.detail.xhr ? evt.detail.xhr.status : 0;
      if (evt.detail.successful && status >= 200 && status < 300) {
        form.reset();
        var err = document.getElementById("composer-error");
        if (err) err.textContent = "";
        followChat = true;
        scrollChat();
      }
    }
  });

  // An upload form empties once its files are sent; their rows show the rest.
  document.addEventListener("htmx:afterRequest", function (evt) {
    var form = evt.detail.elt;
    if (form.matches && form.matches("form[data-reset-after-upload]") && evt.detail.successful) form.reset();
  });

  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) evt.preventDefault();
  });
  document.addEventListener("change", function (evt) {
    if (evt.target.matches && evt.target.matches("input[data-autosubmit], select[data-autosubmit]")) evt.target.form.submit();
  });

  // Export asks which parts go into the Agent File; the link alone exports them all.
  document.addEventListener("click", function (evt) {
    var dialog = document.getElementById("export-dialog");
    if (!dialog || !evt.target.closest) return;
    var link = evt.target.closest("a[data-export]");
    if (link) {
      evt.preventDefault();
      var form = dialog.querySelector("form");
      form.reset();
      form.action = link.href;
      dialog.querySelector("[data-export-name]").textContent = link.dataset.export;
      dialog.showModal();
    } else if (evt.target.closest("[data-export-cancel]")) {
      dialog.close();
    }
  });
  document.addEventListener("submit", function (evt) {
    // The download leaves the page where it is: close the dialog behind it.
    if (evt.target.matches && evt.target.matches("form[data-export-form]")) {
      var dialog = evt.target.closest("dialog");
      setTimeout(function () { dialog.close(); }, 0);
    }
  });

  // Tabs: the left pane switches locally; the right pane's tabs load panels with htmx.
  document.addEventListener("click", function (evt) {
    var button = evt.target.closest && evt.target.closest("[data-local-tabs] button[data-show]");
    if (button) {
      var nav = button.parentElement;
      nav.querySelectorAll("button").forEach(function (b) {
        b.classList.toggle("active", b === button);
        var pane = document.getElementById(b.dataset.show);
        if (pane) pane.hidden = b !== button;
      });
      return;
    }
    var link = evt.target.closest && evt.target.closest("[data-server-tabs] a");
    if (link) {
      link.parentElement.querySelectorAll("a").forEach(function (a) { a.classList.toggle("active", a === link); });
      sayTab();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    var log = chatLog();
    if (log) {
      log.scrollTop = log.scrollHeight;
      // Follow new messages only while the reader is at the bottom.
      log.addEventListener("scroll", function () {
        followChat = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
      });
    }
  });
})();

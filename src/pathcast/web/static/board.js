/* Pipeline board: drag a card to another column (or pick a stage in its "Move to…"
   list) to move the deal. The API decides; a refused move snaps the card back and
   shows the problem's detail, which the server writes in the user's language. */
(function () {
  "use strict";

  var dragged = null;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function config() {
    var source = document.getElementById("board-config");
    return source ? JSON.parse(source.textContent) : null;
  }

  function fill(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (match, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? values[key] : match;
    });
  }

  function say(id, text) {
    var element = document.getElementById(id);
    if (element) {
      element.textContent = text || "";
    }
  }

  function showError(text) {
    say("board-status", "");
    say("board-message", text);
  }

  function showStatus(text) {
    say("board-message", "");
    say("board-status", text);
  }

  function closest(node, selector) {
    return node && node.nodeType === 1 ? node.closest(selector) : null;
  }

  function columnOf(stageId) {
    return document.querySelector('.board-column[data-stage-id="' + String(stageId) + '"]');
  }

  // Order inside a column: by expected close date (soonest first, or latest first in
  // won/lost columns), undated last, then by id — the order the server pages in.
  function comesBefore(a, b, descending) {
    var left = a.getAttribute("data-close") || "";
    var right = b.getAttribute("data-close") || "";
    if (left !== right) {
      if (!left) { return false; }
      if (!right) { return true; }
      return descending ? left > right : left < right;
    }
    var leftId = Number(a.getAttribute("data-id"));
    var rightId = Number(b.getAttribute("data-id"));
    return descending ? leftId > rightId : leftId < rightId;
  }

  function place(card, column) {
    var list = column.querySelector(".board-cards");
    var descending = column.getAttribute("data-order") === "desc";
    var cards = list.querySelectorAll(":scope > .board-card");
    for (var index = 0; index < cards.length; index += 1) {
      if (cards[index] !== card && comesBefore(card, cards[index], descending)) {
        list.insertBefore(card, cards[index]);
        return;
      }
    }
    list.insertBefore(card, list.querySelector(":scope > .board-more"));
  }

  function markStage(card, stageId) {
    card.setAttribute("data-stage-id", String(stageId));
    var select = card.querySelector(".board-move");
    if (!select) { return; }
    for (var index = 0; index < select.options.length; index += 1) {
      var option = select.options[index];
      option.disabled = option.value !== "" && option.value === String(stageId);
    }
    select.value = "";
  }

  function problemText(problem, settings) {
    if (!problem || typeof problem.detail !== "string" || !problem.detail) {
      return settings.messages.refused;
    }
    var parts = [problem.detail];
    (Array.isArray(problem.errors) ? problem.errors : []).forEach(function (error) {
      if (error && typeof error.detail === "string" && parts.indexOf(error.detail) < 0) {
        parts.push(error.detail);
      }
    });
    return parts.join(" ");
  }

  function refreshTotals(settings) {
    fetch(settings.totals_url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (!data || !data.stages) { return; }
        Object.keys(data.stages).forEach(function (stageId) {
          var column = columnOf(stageId);
          if (!column) { return; }
          var total = data.stages[stageId];
          var count = column.querySelector('[data-role="count"]');
          count.textContent = total.count_text;
          count.setAttribute("data-count", String(total.count));
          column.querySelector('[data-role="amount"]').textContent = total.amount_text;
        });
      })
      .catch(function () { /* the headers stay as they were until the next reload */ });
  }

  function finish(card, focusSelect) {
    card.classList.remove("moving");
    card.removeAttribute("aria-busy");
    if (focusSelect) {
      var select = card.querySelector(".board-move");
      if (select) { select.focus(); }
    }
  }

  function snapBack(card, origin, text, focusSelect) {
    if (origin.next && origin.next.parentNode === origin.list) {
      origin.list.insertBefore(card, origin.next);
    } else {
      place(card, origin.column);
    }
    markStage(card, origin.stageId);
    finish(card, focusSelect);
    showError(text);
  }

  function moveCard(card, column, focusSelect) {
    var settings = config();
    var from = closest(card, ".board-column");
    if (!settings || !from || from === column || card.classList.contains("moving")) {
      return;
    }
    var origin = {
      column: from,
      list: card.parentNode,
      next: card.nextElementSibling,
      stageId: card.getAttribute("data-stage-id")
    };
    var stageId = column.getAttribute("data-stage-id");
    place(card, column);
    markStage(card, stageId);
    card.classList.add("moving");
    card.setAttribute("aria-busy", "true");
    fetch("/api/v1/opportunities/" + encodeURIComponent(card.getAttribute("data-id")) + "/stage", {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json, application/problem+json",
        "X-CSRF-Token": csrfToken()
      },
      body: JSON.stringify({ stage_id: Number(stageId) })
    }).then(function (response) {
      if (!response.ok) {
        return response.json()
          .catch(function () { return null; })
          .then(function (problem) { snapBack(card, origin, problemText(problem, settings), focusSelect); });
      }
      return response.json().then(function (deal) {
        var landed = String(deal.stage_id);
        if (landed !== String(stageId) && columnOf(landed)) {
          place(card, columnOf(landed));
          markStage(card, landed);
        }
        finish(card, focusSelect);
        card.classList.add("moved");
        showStatus(fill(settings.messages.moved, {
          deal: card.getAttribute("data-name") || "",
          stage: settings.stages[landed] || ""
        }));
        refreshTotals(settings);
      });
    }).catch(function () {
      snapBack(card, origin, settings.messages.network, focusSelect);
    });
  }

  function clearTargets() {
    document.querySelectorAll(".board-column.drop-target").forEach(function (column) {
      column.classList.remove("drop-target");
    });
  }

  document.addEventListener("dragstart", function (event) {
    var card = closest(event.target, ".board-card");
    if (!card || card.classList.contains("moving")) { return; }
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-id"));
  });

  document.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("dragging"); }
    dragged = null;
    clearTargets();
  });

  document.addEventListener("dragover", function (event) {
    var column = closest(event.target, ".board-column");
    if (!dragged || !column) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    if (!column.classList.contains("drop-target")) {
      clearTargets();
      column.classList.add("drop-target");
    }
  });

  document.addEventListener("drop", function (event) {
    var column = closest(event.target, ".board-column");
    if (!dragged || !column) { return; }
    event.preventDefault();
    var card = dragged;
    card.classList.remove("dragging");
    dragged = null;
    clearTargets();
    moveCard(card, column, false);
  });

  // The keyboard and touch way: each card's "Move to…" list.
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select || !select.classList || !select.classList.contains("board-move")) { return; }
    var card = closest(select, ".board-card");
    var column = select.value ? columnOf(select.value) : null;
    if (card && column) {
      moveCard(card, column, true);
    } else {
      select.value = "";
    }
  });

  // A card moved into a column before its "more" page loaded can come again in that
  // page: keep the first copy.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "board-area") {
      showStatus("");  // new filters: earlier messages no longer apply
    }
    document.querySelectorAll(".board-cards").forEach(function (list) {
      var seen = {};
      list.querySelectorAll(":scope > .board-card").forEach(function (card) {
        var id = card.getAttribute("data-id");
        if (seen[id]) {
          card.remove();
        } else {
          seen[id] = true;
        }
      });
    });
  });

  document.addEventListener("htmx:responseError", function (event) {
    var source = event.detail && event.detail.elt;
    var settings = config();
    if (settings && closest(source, ".board-more")) {
      showError(settings.messages.load_failed);
    }
  });
})();

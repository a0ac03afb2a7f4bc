/* millstream web UI: live state colours, log tails, group toggles and confirmations.
 * Plain JavaScript, no build step. Every page works without it; this only keeps pages fresh. */
(function () {
  "use strict";

  var FAST = 2000;   // while something is under way
  var SLOW = 10000;  // when everything shown has finished

  function label(state) {
    return state === "none" ? "no status" : state.replace(/_/g, " ");
  }

  /* A state holder either wraps a badge (run and task state cells: only the badge changes,
   * never the holder's own look) or is itself coloured (grid cells, run bars, graph nodes). */
  function setState(el, state) {
    if (!el || el.getAttribute("data-state") === state) { return; }
    var old = el.getAttribute("data-state");
    el.setAttribute("data-state", state);
    var badge = el.querySelector && el.querySelector(".badge");
    if (badge) {
      badge.className = "badge st-" + state;
      badge.setAttribute("data-state", state);
      badge.textContent = label(state);
    } else {
      var target = el.classList.contains("node") ? el.querySelector("rect.state") : el;
      if (target) {
        if (old) { target.classList.remove("st-" + old); }
        target.classList.add("st-" + state);
      }
    }
    if (el.hasAttribute("title")) {
      el.setAttribute("title", el.getAttribute("title").replace(/[a-z_]+$/, state));
    }
  }

  function poll(url, handle) {
    var stopped = false;
    function tick() {
      if (stopped) { return; }
      if (document.hidden) { window.setTimeout(tick, FAST); return; }
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) {
          if (!response.ok || (response.headers.get("content-type") || "").indexOf("json") < 0) {
            throw new Error("status " + response.status);
          }
          return response.json();
        })
        .then(function (data) {
          var next = handle(data);
          if (next === false) { stopped = true; return; }
          window.setTimeout(tick, next || FAST);
        })
        .catch(function () { window.setTimeout(tick, SLOW); });
    }
    window.setTimeout(tick, FAST);
  }

  function cssEscape(value) {
    return window.CSS && CSS.escape ? CSS.escape(value) : value.replace(/["\\]/g, "\\$&");
  }

  /* -- grid: recolour cells and run bars; a new run reloads the page ------------------------ */
  function liveGrid(table) {
    if (table.getAttribute("data-live") !== "true") { return; }
    var cells = {};
    table.querySelectorAll("[data-run-id][data-task-id], [data-run-id][data-group-id]")
      .forEach(function (el) {
        var row = el.getAttribute("data-task-id") || el.getAttribute("data-group-id");
        cells[row + "\n" + el.getAttribute("data-run-id")] = el;
      });
    var shown = Array.prototype.map.call(table.querySelectorAll(".run-bar"), function (bar) {
      return bar.getAttribute("data-run-id");
    });
    poll(table.getAttribute("data-states-url"), function (data) {
      var runs = data.runs.map(function (r) { return r.run_id; });
      if (runs.join("\n") !== shown.join("\n")) { window.location.reload(); return false; }
      data.runs.forEach(function (r) {
        var bar = table.querySelector('.run-bar[data-run-id="' + cssEscape(r.run_id) + '"]');
        if (bar) {
          setState(bar, r.state);
          bar.className = bar.className.replace(/bar-h\d+/, "bar-h" + r.bar);
        }
      });
      Object.keys(data.cells).forEach(function (row) {
        var states = data.cells[row];
        Object.keys(states).forEach(function (run) { setState(cells[row + "\n" + run], states[run]); });
      });
      Object.keys(data.info || {}).forEach(function (row) {
        var facts = data.info[row];
        Object.keys(facts).forEach(function (run) {
          var el = cells[row + "\n" + run];
          if (!el) { return; }
          var f = facts[run];
          el.setAttribute("data-try", String(f[0]));
          el.setAttribute("data-dur", f[1]);
          el.setAttribute("data-start", f[2]);
          el.setAttribute("data-end", f[3]);
          el.textContent = f[0] > 1 ? String(f[0]) : "";
        });
      });
      return data.active ? FAST : SLOW;
    });
  }

  /* -- grid: collapse and expand task groups ------------------------------------------------ */
  function groupToggles(table) {
    table.querySelectorAll(".group-toggle").forEach(function (button) {
      button.addEventListener("click", function () {
        var open = button.getAttribute("aria-expanded") === "true";
        button.setAttribute("aria-expanded", open ? "false" : "true");
        button.textContent = open ? "▸" : "▾";
        var hidden = {};
        hidden[button.getAttribute("data-group")] = open;
        table.querySelectorAll("tbody tr").forEach(function (row) {
          var parent = row.getAttribute("data-parent");
          if (parent && Object.prototype.hasOwnProperty.call(hidden, parent)) {
            row.classList.toggle("hidden", hidden[parent]);
            if (row.getAttribute("data-kind") === "group") {
              var inner = row.querySelector(".group-toggle");
              hidden[row.getAttribute("data-row-id")] =
                hidden[parent] || inner.getAttribute("aria-expanded") === "false";
            }
          }
        });
      });
    });
  }

  /* -- grid: a card on hover with the cell's try and times ---------------------------------- */
  function gridCard(table) {
    var card = document.getElementById("grid-card");
    if (!card) { return; }
    var labels = {};
    table.querySelectorAll(".run-head-link").forEach(function (a) {
      labels[a.getAttribute("data-run-id")] = a.textContent.trim();
    });
    function line(key, value) {
      var row = document.createElement("div");
      row.className = "row";
      var k = document.createElement("span");
      k.className = "k";
      k.textContent = key;
      var v = document.createElement("span");
      v.textContent = value;
      row.appendChild(k);
      row.appendChild(v);
      card.appendChild(row);
    }
    function place(event) {
      var x = event.clientX + 14;
      var y = event.clientY + 14;
      if (x + card.offsetWidth > window.innerWidth - 8) { x = event.clientX - card.offsetWidth - 14; }
      if (y + card.offsetHeight > window.innerHeight - 8) { y = event.clientY - card.offsetHeight - 14; }
      card.style.left = x + "px";
      card.style.top = y + "px";
    }
    table.addEventListener("mouseover", function (event) {
      var cell = event.target.closest ? event.target.closest("a.cell") : null;
      if (!cell) { card.hidden = true; return; }
      card.textContent = "";
      var title = document.createElement("b");
      title.textContent = cell.getAttribute("data-task-id");
      card.appendChild(title);
      var run = cell.getAttribute("data-run-id");
      line("run", labels[run] || run);
      line("state", label(cell.getAttribute("data-state")));
      if (cell.hasAttribute("data-count")) { line("mapped", cell.getAttribute("data-count") + " instances"); }
      if (cell.hasAttribute("data-try")) {
        line("try", cell.getAttribute("data-try"));
        line("duration", cell.getAttribute("data-dur"));
        line("started", cell.getAttribute("data-start") || "–");
        line("ended", cell.getAttribute("data-end") || "–");
      }
      card.hidden = false;
      place(event);
    });
    table.addEventListener("mousemove", function (event) { if (!card.hidden) { place(event); } });
    table.addEventListener("mouseleave", function () { card.hidden = true; });
  }

  /* -- grid: a cell or a run header opens its details beside the grid ---------------------- */
  function detailsPanel(table) {
    var panel = document.getElementById("details-panel");
    var layout = document.getElementById("grid-layout");
    var card = document.getElementById("grid-card");
    if (!panel) { return; }
    var selected = null;
    function select(el) {
      if (selected) { selected.classList.remove("selected"); }
      selected = el;
      if (el) { el.classList.add("selected"); }
    }
    function remember(runId, taskId) {
      var params = new URLSearchParams(window.location.search);
      ["run_id", "task_id", "map_index"].forEach(function (k) { params.delete(k); });
      if (runId) { params.set("run_id", runId); }
      if (taskId) { params.set("task_id", taskId); }
      var search = params.toString();
      window.history.replaceState(null, "", window.location.pathname + (search ? "?" + search : ""));
    }
    function open(link) {
      var runId = link.getAttribute("data-run-id");
      var taskId = link.getAttribute("data-task-id");
      var params = new URLSearchParams();
      params.set("run_id", runId);
      if (taskId) { params.set("task_id", taskId); }
      fetch(table.getAttribute("data-details-url") + "?" + params.toString(),
            { credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) { throw new Error("status " + response.status); }
          return response.text();
        })
        .then(function (html) {
          panel.innerHTML = html;  // rendered (and escaped) by the server's template
          panel.hidden = false;
          layout.classList.add("with-details");
          select(link);
          remember(runId, taskId);
        })
        .catch(function () { window.location.href = link.href; });
    }
    table.addEventListener("click", function (event) {
      if (event.defaultPrevented || event.button !== 0 || event.ctrlKey || event.metaKey ||
          event.shiftKey || event.altKey) { return; }  // a new tab or window: the full page
      var link = event.target.closest ? event.target.closest("a.cell, a.run-link, a.run-head-link") : null;
      if (!link) { return; }
      event.preventDefault();
      if (card) { card.hidden = true; }
      open(link);
    });
    panel.addEventListener("click", function (event) {
      if (event.target.closest && event.target.closest("#close-details")) {
        panel.hidden = true;
        panel.textContent = "";
        layout.classList.remove("with-details");
        select(null);
        remember(null, null);
      }
    });
  }

  /* -- graph, run page, task page: one run's states ----------------------------------------- */
  function liveRun(root, url) {
    poll(url, function (data) {
      Object.keys(data.nodes).forEach(function (id) {
        root.querySelectorAll('[data-task-id="' + cssEscape(id) + '"].node, ' +
                              '[data-group-id="' + cssEscape(id) + '"]')
          .forEach(function (el) { setState(el, data.nodes[id]); });
      });
      var runState = document.getElementById("run-state");
      if (runState) { setState(runState, data.state); }
      return data.active ? FAST : false;
    });
  }

  /* -- run page: the run's state and dates in every place they show, and its task rows --- */
  function liveRunPage(table) {
    if (table.getAttribute("data-active") !== "true") { return; }
    var rows = document.getElementById("ti-rows");
    var count = document.getElementById("ti-count");
    var lastRows = null;
    poll(table.getAttribute("data-live-url"), function (data) {
      document.querySelectorAll(".run-state").forEach(function (el) { setState(el, data.state); });
      Object.keys(data.fields).forEach(function (name) {
        document.querySelectorAll('[data-run-field="' + name + '"]').forEach(function (el) {
          el.textContent = data.fields[name];
        });
      });
      if (rows && data.rows_html !== lastRows) {
        // the rows come from the page's own template: a poll shows what a reload would
        rows.innerHTML = data.rows_html;
        lastRows = data.rows_html;
      }
      if (count) { count.textContent = "(" + data.count + ")"; }
      return data.active ? FAST : false;
    });
  }

  /* -- task page: follow the log while the try runs ----------------------------------------- */
  function followLog(pre) {
    if (pre.getAttribute("data-finished") === "true") { return; }
    var status = document.getElementById("log-status");
    if (status) {
      var dot = document.createElement("span");
      dot.className = "live-dot";
      dot.title = "following the log";
      status.insertBefore(dot, status.firstChild);
    }
    var offset = parseInt(pre.getAttribute("data-offset"), 10) || 0;
    var base = pre.getAttribute("data-log-url");
    function tick() {
      fetch(base + "&offset=" + offset, { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          if (data.text) {
            var atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
            pre.appendChild(document.createTextNode(data.text));
            if (atBottom) { pre.scrollTop = pre.scrollHeight; }
          }
          offset = data.offset;
          setState(document.getElementById("ti-state"), data.state);
          if (data.finished && offset >= data.size) {
            window.location.reload();  // the try ended: show its XComs and final state
            return;
          }
          window.setTimeout(tick, data.text ? 500 : 1500);
        })
        .catch(function () { window.setTimeout(tick, SLOW); });
    }
    window.setTimeout(tick, 1000);
  }

  /* -- task page: wait for the next try while the instance has work ahead of it ------------- */
  function syncTryLinks(pageUrl, tries) {
    var links = document.getElementById("try-links");
    if (!links) { return; }
    tries.forEach(function (t) {
      var link = links.querySelector('a.badge[data-try="' + t.try_number + '"]');
      if (!link) {
        link = document.createElement("a");
        link.setAttribute("data-try", String(t.try_number));
        link.href = pageUrl + "&try=" + t.try_number;
        link.textContent = String(t.try_number);
        links.appendChild(link);
      } else if (link.getAttribute("data-state") === t.state) {
        return;
      }
      link.classList.remove("st-" + link.getAttribute("data-state"));
      link.classList.add("badge", "st-" + t.state);
      link.setAttribute("data-state", t.state);
      link.title = "try " + t.try_number + ": " + t.state;
    });
  }

  function watchInstance(head) {
    if (head.getAttribute("data-unfinished") !== "true") { return; }
    var log = document.getElementById("log");
    if (log && log.getAttribute("data-finished") === "false") { return; }  // followLog has it
    var pageUrl = head.getAttribute("data-page-url");
    var shown = parseInt(head.getAttribute("data-try"), 10) || 0;
    var latest = parseInt(head.getAttribute("data-try-number"), 10) || 0;
    var wasBusy = head.getAttribute("data-busy") === "true";
    poll(head.getAttribute("data-instance-url"), function (data) {
      setState(document.getElementById("ti-state"), data.state);
      syncTryLinks(pageUrl, data.tries);
      if (shown === latest && (data.try_number !== latest || (data.busy && !wasBusy))) {
        // a try started (or a suspended one resumed): show it and follow its log
        window.location.replace(pageUrl + "&try=" + data.try_number);
        return false;
      }
      if (data.finished) {
        if (shown === latest) { window.location.reload(); }  // its final state and XComs
        return false;
      }
      return FAST;
    });
  }

  /* -- graph: zoom, pan and fit, by moving the SVG's viewBox ------------------------------- */
  function zoomable(svg) {
    var width = parseFloat(svg.getAttribute("data-width")) || 100;
    var height = parseFloat(svg.getAttribute("data-height")) || 100;
    var view = { x: 0, y: 0, w: width, h: height };
    function apply() {
      svg.setAttribute("viewBox", [view.x, view.y, view.w, view.h].map(function (v) {
        return v.toFixed(1);
      }).join(" "));
    }
    function fit() {
      view = { x: 0, y: 0, w: width, h: height };
      apply();
    }
    function actualSize() {
      var box = svg.getBoundingClientRect();
      view = { x: 0, y: 0, w: box.width || width, h: box.height || height };
      apply();
    }
    function zoom(factor, cx, cy) {
      var w = Math.min(Math.max(view.w * factor, 40), width * 20);
      var h = view.h * (w / view.w);
      view.x = cx - (cx - view.x) * (w / view.w);
      view.y = cy - (cy - view.y) * (h / view.h);
      view.w = w;
      view.h = h;
      apply();
    }
    function toGraph(event) {
      var box = svg.getBoundingClientRect();
      var scale = Math.max(view.w / box.width, view.h / box.height);
      return { x: view.x + (event.clientX - box.left) * scale,
               y: view.y + (event.clientY - box.top) * scale, scale: scale };
    }
    function centre() { return { x: view.x + view.w / 2, y: view.y + view.h / 2 }; }
    var buttons = { "zoom-in": function () { var c = centre(); zoom(0.8, c.x, c.y); },
                    "zoom-out": function () { var c = centre(); zoom(1.25, c.x, c.y); },
                    "zoom-fit": fit, "zoom-reset": actualSize };
    Object.keys(buttons).forEach(function (id) {
      var button = document.getElementById(id);
      if (button) { button.addEventListener("click", buttons[id]); }
    });
    svg.addEventListener("wheel", function (event) {
      event.preventDefault();
      var at = toGraph(event);
      zoom(event.deltaY < 0 ? 0.85 : 1 / 0.85, at.x, at.y);
    }, { passive: false });
    var drag = null;
    svg.addEventListener("mousedown", function (event) {
      if (event.button !== 0) { return; }
      dragged = false;
      drag = { start: toGraph(event), view: { x: view.x, y: view.y }, moved: false,
               cx: event.clientX, cy: event.clientY };
    });
    window.addEventListener("mousemove", function (event) {
      if (!drag) { return; }
      if (Math.abs(event.clientX - drag.cx) + Math.abs(event.clientY - drag.cy) > 4) {
        drag.moved = true;
        svg.classList.add("panning");
      }
      if (drag.moved) {
        view.x = drag.view.x - (event.clientX - drag.cx) * drag.start.scale;
        view.y = drag.view.y - (event.clientY - drag.cy) * drag.start.scale;
        apply();
      }
    });
    var dragged = false;
    svg.addEventListener("click", function (event) {
      if (dragged) { event.preventDefault(); event.stopPropagation(); }  // a drag, not a click
      dragged = false;
    }, true);
    window.addEventListener("mouseup", function () {
      dragged = Boolean(drag && drag.moved);
      drag = null;
      svg.classList.remove("panning");
    });
  }

  /* -- overview: fresh every half minute, unless the reader has opened a traceback ------- */
  function refreshOverview(tiles) {
    var every = (parseInt(tiles.getAttribute("data-refresh-s"), 10) || 30) * 1000;
    window.setInterval(function () {
      if (document.hidden || document.querySelector("details[open]")) { return; }
      window.location.reload();
    }, every);
  }

  /* -- forms that ask first ----------------------------------------------------------------- */
  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    confirmations();
    var grid = document.getElementById("grid");
    if (grid) { groupToggles(grid); liveGrid(grid); gridCard(grid); detailsPanel(grid); }
    var graph = document.getElementById("graph");
    if (graph) { zoomable(graph); }
    if (graph && graph.getAttribute("data-states-url")) {
      liveRun(graph, graph.getAttribute("data-states-url"));
    }
    var table = document.getElementById("task-instances");
    if (table) { liveRunPage(table); }
    var log = document.getElementById("log");
    if (log) { followLog(log); }
    var tiles = document.getElementById("overview-tiles");
    if (tiles) { refreshOverview(tiles); }
    var head = document.getElementById("task-head");
    if (head) { watchInstance(head); }
  });
}());

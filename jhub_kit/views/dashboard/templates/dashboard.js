// The class dashboard: fetch data.json, draw a sortable table, refresh itself.
// Every value goes in with textContent: nothing a user named themselves is run as HTML.
"use strict";
(function () {
  const NUMERIC = new Set(["memory_used", "oom_kills", "cpu_used", "memory_peak", "cpu_peak", "disk_used"]);
  const SVG = "http://www.w3.org/2000/svg";
  let sortKey = "user";
  let ascending = true;
  let data = null;
  let timer = null;

  // a polyline through "x,y" points; a single point (a first reading) gets a stub
  // ``stub`` wide to its left, so it shows
  function polyline(pts, cls, stub) {
    if (pts.length === 1) {
      const [x, y] = pts[0].split(",").map(Number);
      pts = [`${Math.max(0, x - stub).toFixed(1)},${y.toFixed(1)}`, pts[0]];
    }
    const p = document.createElementNS(SVG, "polyline");
    p.setAttribute("points", pts.join(" "));
    p.setAttribute("class", cls);
    return p;
  }

  // a polyline of values (nulls skipped) scaled into w x h; max: the top of the scale
  function line(values, w, h, max, cls) {
    const pts = [];
    const n = values.length;
    values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      const x = n > 1 ? (i * w) / (n - 1) : 0;
      const y = h - 1 - (max > 0 ? (v / max) * (h - 2) : 0);
      pts.push(`${x.toFixed(1)},${y.toFixed(1)}`);
    });
    return polyline(pts, cls, 3);  // one reading: its first minute
  }

  // a row's last hour: memory (of its limit, or its peak) and CPU (of 100% a core)
  function spark(history, row) {
    const svg = document.createElementNS(SVG, "svg");
    const w = 120, h = 24;
    svg.setAttribute("class", "spark");
    svg.setAttribute("width", w);
    svg.setAttribute("height", h);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", `memory peak ${row.memory_peak}, CPU peak ${row.cpu_peak}`);
    if (!history) return svg;
    const mem = history.memory.filter((v) => v !== null);
    const cpu = history.cpu.filter((v) => v !== null);
    svg.appendChild(line(history.memory, w, h, Math.max(1, ...mem), "mem"));
    svg.appendChild(line(history.cpu, w, h, Math.max(100, ...cpu), "cpu"));
    return svg;
  }

  // "x,y" points of a count over time drawn as steps: a count holds until the next sample
  function steps(series, k, x, y) {
    const pts = [];
    series.forEach((r, i) => {
      if (i > 0) pts.push(`${x(r[0]).toFixed(1)},${y(series[i - 1][k]).toFixed(1)}`);
      pts.push(`${x(r[0]).toFixed(1)},${y(r[k]).toFixed(1)}`);
    });
    return pts;
  }

  function svgText(x, y, text, anchor) {
    const t = document.createElementNS(SVG, "text");
    t.setAttribute("x", x);
    t.setAttribute("y", y);
    t.setAttribute("text-anchor", anchor);
    t.textContent = text;
    return t;
  }

  // the class over the samples kept (data.class_span seconds, from the service's
  // start): the x axis is the data present, as wide as the page
  function classChart() {
    const box = document.getElementById("class-chart");
    const series = data.class_chart || [];
    const w = Math.max(120, box.clientWidth), h = 72, pad = 14;
    const span = data.class_span || Math.max(60, ...series.map((r) => r[0]));
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "klass");
    svg.setAttribute("width", w);
    svg.setAttribute("height", h);
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    const top = Math.max(1, ...series.map((r) => Math.max(r[1], r[2])));
    const x = (ago) => w - (Math.min(ago, span) / span) * w;
    const y = (n) => h - pad - 1 - (n / top) * (h - pad - 12);
    const axis = document.createElementNS(SVG, "line");  // the baseline: 0 servers
    for (const [a, v] of [["x1", 0], ["y1", h - pad - 0.5], ["x2", w], ["y2", h - pad - 0.5]]) axis.setAttribute(a, v);
    axis.setAttribute("class", "axis");
    svg.appendChild(axis);
    for (const [k, cls] of [[1, "running"], [2, "queued"]]) {
      svg.appendChild(polyline(steps(series, k, x, y), cls, 3));
    }
    const since = new Date(Date.now() - span * 1000);
    const minutes = Math.round(span / 60);
    svg.appendChild(svgText(0, h - 2, since.toLocaleTimeString([], { timeStyle: "short" }), "start"));
    svg.appendChild(svgText(w, h - 2, "now", "end"));
    svg.appendChild(svgText(0, 10, `${top}`, "start"));
    const last = series.length ? series[series.length - 1] : [0, 0, 0];
    svg.setAttribute("role", "img");
    svg.setAttribute(
      "aria-label",
      `${last[1]} running, ${last[2]} waiting now; at most ${top} over the last ${minutes} min`,
    );
    box.replaceChildren(svg);
    document.getElementById("class-chart-caption").dataset.span = String(Math.round(span));
  }

  // the filters' choices from the rows; a choice that is gone is reset
  function fillFilter(id, values) {
    const select = document.getElementById(id);
    const keep = select.value;
    const options = [["", "all"], ...[...values].sort().map((v) => [v, v])];
    select.replaceChildren(...options.map(([v, label]) => {
      const o = document.createElement("option");
      o.value = v;
      o.textContent = label;
      return o;
    }));
    select.value = values.has(keep) ? keep : "";
  }

  function shown(row) {
    const group = document.getElementById("filter-group").value;
    const profile = document.getElementById("filter-profile").value;
    if (group && !row.groups.split(",").includes(group)) return false;
    if (profile && row.profile !== profile) return false;
    return true;
  }

  function sortValue(row, key) {
    if (key === "memory_used") return row.memory_used_bytes ?? -1;
    if (key === "cpu_used") return parseFloat(row.cpu_used) || 0;
    if (key === "memory_peak") return row.memory_peak_bytes ?? -1;
    if (key === "disk_used") return row.disk_used_bytes ?? -1;
    if (key === "cpu_peak") return parseFloat(row.cpu_peak) || 0;
    if (key === "server" && row.queue_ahead !== null && row.queue_ahead !== undefined) {
      return "queued " + String(row.queue_ahead).padStart(6, "0");
    }
    return row[key];
  }

  // a column a narrow window leaves out: shown from its breakpoint up (Bootstrap 5)
  function hideBelow(cell, key) {
    const from = (data.column_hide || {})[key];
    if (from) cell.classList.add("d-none", `d-${from}-table-cell`);
  }

  function draw() {
    const head = document.querySelector("#class thead tr");
    const body = document.querySelector("#class tbody");
    head.replaceChildren();
    const acting = Object.keys(data.actions || {}).length > 0;
    for (const [key, label] of data.columns) {
      const th = document.createElement("th");
      th.textContent = label;
      th.dataset.key = key;
      th.scope = "col";
      hideBelow(th, key);
      if (key === sortKey) th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      th.addEventListener("click", () => {
        ascending = key === sortKey ? !ascending : true;
        sortKey = key;
        draw();
      });
      head.appendChild(th);
    }
    if (acting) {
      const th = document.createElement("th");
      th.textContent = "Actions";
      th.scope = "col";
      head.appendChild(th);
    }
    const rows = data.rows.filter(shown).sort((a, b) => {
      const x = sortValue(a, sortKey), y = sortValue(b, sortKey);
      const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return ascending ? c : -c;
    });
    body.replaceChildren();
    for (const row of rows) {
      const tr = document.createElement("tr");
      tr.dataset.user = row.user;
      tr.dataset.server = row.server_name || "";
      if (row.oom_kills > 0) tr.className = "oom table-warning";
      if (row.server === "never logged in") tr.className = "never";
      for (const [key] of data.columns) {
        const td = document.createElement("td");
        hideBelow(td, key);
        if (key === "user" && row.server_name) {  // a named server: its name beside the user's
          td.dataset.key = key;
          const name = document.createElement("span");
          name.className = "server-name d-xxl-none";  // its own column shows from xxl
          name.textContent = row.server_name;
          name.title = "named server";
          td.append(row.user, name);
          tr.appendChild(td);
          continue;
        }
        if (key === "history") {
          td.dataset.key = key;
          td.appendChild(spark(row.history, row));
          tr.appendChild(td);
          continue;
        }
        let text = row[key] === null || row[key] === undefined ? "" : String(row[key]);
        if (key === "last_activity" && text) {
          const when = new Date(text);
          if (!isNaN(when)) {
            td.title = text;
            text = when.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
          }
        }
        td.textContent = text;
        td.dataset.key = key;
        if (NUMERIC.has(key)) td.classList.add("num");
        tr.appendChild(td);
      }
      if (acting) tr.appendChild(actionCell(row));
      body.appendChild(tr);
    }
  }

  // a teacher's buttons: what the caller may do to this student (the service checks again)
  function actionCell(row) {
    const td = document.createElement("td");
    td.dataset.key = "actions";
    const may = (data.actions || {})[row.user] || [];
    if (row.server_name) return td;  // the actions are on the default server
    const box = document.createElement("div");
    box.className = "d-flex flex-wrap gap-1";
    td.appendChild(box);
    const running = row.server === "running";
    const path = (action) => `api/users/${encodeURIComponent(row.user)}/${action}`;
    const button = (action, label, cls, title, onClick) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = `btn btn-sm ${cls}`;
      b.textContent = label;
      b.title = title;
      b.dataset.action = action;
      b.addEventListener("click", onClick);
      box.appendChild(b);
    };
    if (running && may.includes("open")) {
      button("open", "Open", "btn-outline-secondary", `Open ${row.user}'s server to help them (they are told)`,
        () => openServer(path("open")));
    }
    const action = running ? "stop" : "start";
    // a student who never logged in has no account in the hub yet: nothing to start
    if (may.includes(action) && (running || row.server === "stopped")) {
      button(action, running ? "Stop" : "Start", running ? "btn-outline-danger" : "btn-outline-primary",
        `${running ? "Stop" : "Start"} ${row.user}'s server`, () => act(path(action), {}));
    }
    if (may.includes("extend") && row.server !== "never logged in") {
      button("extend", "+Today", "btn-outline-secondary",
        `Not stopped for being idle until the end of today (${row.user})`, () => act(path("extend"), {}));
    }
    return td;
  }

  // the access is recorded first (the student sees it), then the server opens in a
  // new tab at the hub's own URL; the hub checks the teacher's access:servers again
  async function openServer(path) {
    const tab = window.open("about:blank", "_blank");
    // the student's server must not reach back into the dashboard's window
    if (tab) tab.opener = null;
    const answer = await act(path, {});
    if (answer && answer.url && tab) tab.location.href = answer.url;
    else if (tab) tab.close();
  }

  async function act(path, body) {
    const out = document.getElementById("action-status");
    const xsrf = document.querySelector("meta[name=xsrf]").content;
    out.textContent = "…";
    try {
      const r = await fetch(path, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-XSRFToken": xsrf, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const answer = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error(answer.message || "HTTP " + r.status);
      const changes = answer.changes || [];
      const until = (iso) => new Date(iso).toLocaleTimeString([], { timeStyle: "short" });
      out.textContent = changes.length
        ? changes.map((c) => `${c.target} ${c.limit}: ${c.old ?? "-"} → ${c.new ?? "-"}`).join("; ") + `, effective ${answer.effective}`
        : answer.action === "extend" ? `${answer.target}: not stopped for being idle until ${until(answer.until)} (${answer.users.join(", ")})`
        : answer.action === "open" ? `opening ${answer.user}'s server (recorded)`
        : answer.action ? `${answer.action}: ${answer.user}` : "nothing changed";
      setError(out, false);
      clearTimeout(timer);
      timer = setTimeout(refresh, 500);
      return answer;
    } catch (e) {
      out.textContent = "Refused: " + e.message;
      setError(out, true);
      return null;
    }
  }

  function drawTeach() {
    const box = document.getElementById("teach");
    const users = Object.keys(data.actions || {}).filter((u) => data.actions[u].includes("limits")).sort();
    const groups = data.group_limits || [];
    box.hidden = users.length === 0 && groups.length === 0;
    if (box.hidden) return;
    const select = document.getElementById("limits-target");
    const chosen = select.value;
    select.replaceChildren();
    for (const [kind, names] of [["groups", groups], ["users", users]]) {
      for (const name of names) {
        const o = document.createElement("option");
        o.value = `${kind}/${encodeURIComponent(name)}`;
        o.textContent = kind === "groups" ? `group ${name}` : name;
        select.appendChild(o);
      }
    }
    if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
    const tbody = document.querySelector("#audit tbody");
    tbody.replaceChildren();
    for (const r of data.audit || []) {
      const tr = document.createElement("tr");
      for (const v of [r.when, r.who, r.action, r.target, r.limit, r.old, r.new ?? r.until]) {
        const td = document.createElement("td");
        td.textContent = v === null || v === undefined ? "-" : String(v);
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
  }

  document.getElementById("limits-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = {};
    for (const [id, key] of [["limits-memory", "mem_limit"], ["limits-cpu", "cpu_limit"], ["limits-disk", "disk_limit"], ["limits-idle", "idle_timeout"]]) {
      const v = document.getElementById(id).value.trim();
      if (v) body[key] = v;
    }
    act(`api/${document.getElementById("limits-target").value}/limits`, body);
  });
  document.getElementById("extend-today").addEventListener("click", () => {
    act(`api/${document.getElementById("limits-target").value}/extend`, {});
  });

  function setError(status, error) {
    status.classList.toggle("error", error);
    status.classList.toggle("text-danger", error);
    status.classList.toggle("text-body-secondary", !error);
  }

  async function refresh() {
    const status = document.getElementById("status");
    try {
      const xsrf = document.querySelector("meta[name=xsrf]").content;
      const r = await fetch("data.json", { credentials: "same-origin", headers: { "X-XSRFToken": xsrf } });
      if (!r.ok) throw new Error("HTTP " + r.status);
      data = await r.json();
      fillFilter("filter-group", new Set(data.rows.flatMap((r) => r.groups ? r.groups.split(",") : [])));
      fillFilter("filter-profile", new Set(data.rows.map((r) => r.profile).filter((p) => p)));
      classChart();
      draw();
      drawTeach();
      const n = new Set(data.rows.map((r) => r.user)).size;
      const running = data.rows.filter((r) => r.server === "running").length;
      const plural = (k, word) => `${k} ${word}${k === 1 ? "" : "s"}`;
      status.textContent = `${plural(n, "user")}, ${plural(running, "server")} running; updated ${data.generated || "—"}`
        + (data.error ? ` (${data.error})` : "");
      setError(status, Boolean(data.error));
      clearTimeout(timer);
      timer = setTimeout(refresh, (data.interval || 10) * 1000);
    } catch (e) {
      status.textContent = "Could not load the class: " + e.message;
      setError(status, true);
      clearTimeout(timer);
      timer = setTimeout(refresh, 10000);
    }
  }
  for (const id of ["filter-group", "filter-profile"]) {
    document.getElementById(id).addEventListener("change", () => data && draw());
  }
  const all = document.getElementById("all-columns");
  all.addEventListener("change", () => document.getElementById("class").classList.toggle("all-columns", all.checked));
  let resized = null;
  window.addEventListener("resize", () => {
    clearTimeout(resized);
    resized = setTimeout(() => data && classChart(), 150);
  });
  refresh();
})();

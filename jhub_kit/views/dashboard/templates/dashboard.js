// The class dashboard: fetch data.json, draw a sortable table, refresh itself.
// Every value goes in with textContent: nothing a user named themselves is run as HTML.
"use strict";
(function () {
  const NUMERIC = new Set(["memory_used", "oom_kills", "cpu_used", "memory_peak", "cpu_peak"]);
  const SVG = "http://www.w3.org/2000/svg";
  let sortKey = "user";
  let ascending = true;
  let data = null;

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

  function classChart() {
    const box = document.getElementById("class-chart");
    const series = data.class_chart || [];
    const w = 600, h = 60, span = 4 * 3600;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "klass");
    svg.setAttribute("width", w);
    svg.setAttribute("height", h);
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    const top = Math.max(1, ...series.map((r) => Math.max(r[1], r[2])));
    const axis = document.createElementNS(SVG, "line");  // the baseline: 0 servers
    for (const [a, v] of [["x1", 0], ["y1", h - 0.5], ["x2", w], ["y2", h - 0.5]]) axis.setAttribute(a, v);
    axis.setAttribute("class", "axis");
    svg.appendChild(axis);
    for (const [k, cls] of [[1, "running"], [2, "queued"]]) {
      const pts = series.map((r) => {
        const x = w - (r[0] / span) * w, y = h - 1 - (r[k] / top) * (h - 2);
        return `${x.toFixed(1)},${y.toFixed(1)}`;
      });
      svg.appendChild(polyline(pts, cls, w / 240));  // one reading: a bucket (1 min) wide
    }
    const last = series.length ? series[series.length - 1] : [0, 0, 0];
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", `${last[1]} running, ${last[2]} waiting now; most ${top}`);
    box.replaceChildren(svg);
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
    if (key === "cpu_peak") return parseFloat(row.cpu_peak) || 0;
    if (key === "server" && row.queue_ahead !== null && row.queue_ahead !== undefined) {
      return "queued " + String(row.queue_ahead).padStart(6, "0");
    }
    return row[key];
  }

  function draw() {
    const head = document.querySelector("#class thead tr");
    const body = document.querySelector("#class tbody");
    head.replaceChildren();
    for (const [key, label] of data.columns) {
      const th = document.createElement("th");
      th.textContent = label;
      th.dataset.key = key;
      th.scope = "col";
      if (key === sortKey) th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      th.addEventListener("click", () => {
        ascending = key === sortKey ? !ascending : true;
        sortKey = key;
        draw();
      });
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
      if (row.oom_kills > 0) tr.className = "oom";
      if (row.server === "never logged in") tr.className = "never";
      for (const [key] of data.columns) {
        const td = document.createElement("td");
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
        if (NUMERIC.has(key)) td.className = "num";
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
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
      const n = new Set(data.rows.map((r) => r.user)).size;
      const running = data.rows.filter((r) => r.server === "running").length;
      const plural = (k, word) => `${k} ${word}${k === 1 ? "" : "s"}`;
      status.textContent = `${plural(n, "user")}, ${plural(running, "server")} running; updated ${data.generated || "—"}`
        + (data.error ? ` (${data.error})` : "");
      status.className = data.error ? "error" : "";
      setTimeout(refresh, (data.interval || 10) * 1000);
    } catch (e) {
      status.textContent = "Could not load the class: " + e.message;
      status.className = "error";
      setTimeout(refresh, 10000);
    }
  }
  for (const id of ["filter-group", "filter-profile"]) {
    document.getElementById(id).addEventListener("change", () => data && draw());
  }
  refresh();
})();

// The class dashboard: fetch data.json, draw a sortable table, refresh itself.
// Every value goes in with textContent: nothing a user named themselves is run as HTML.
"use strict";
(function () {
  const NUMERIC = new Set(["memory_used", "oom_kills", "cpu_used"]);
  let sortKey = "user";
  let ascending = true;
  let data = null;

  function sortValue(row, key) {
    if (key === "memory_used") return row.memory_used_bytes ?? -1;
    if (key === "cpu_used") return parseFloat(row.cpu_used) || 0;
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
    const rows = [...data.rows].sort((a, b) => {
      const x = sortValue(a, sortKey), y = sortValue(b, sortKey);
      const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return ascending ? c : -c;
    });
    body.replaceChildren();
    for (const row of rows) {
      const tr = document.createElement("tr");
      tr.dataset.user = row.user;
      if (row.oom_kills > 0) tr.className = "oom";
      for (const [key] of data.columns) {
        const td = document.createElement("td");
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
      draw();
      const n = data.rows.length;
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
  refresh();
})();

// Long names in table cells (`c.QuotaDockerSpawner.usage_interval`,
// `tests/unit/test_dropin.py::test_name`, in code or in prose) may break after
// their separators, so a column of settings is as narrow as the longest part of
// a name, not the longest name.
// A <wbr> is an opportunity to break and no text: copying the cell copies the
// name as written. Without scripts, a wide table scrolls inside its own box
// (jhub_kit.css).
(function () {
  "use strict";
  const AFTER = /(?<=[._/:=,-])(?=[^._/:=,-])/;
  const LONG = 16; // a word shorter than this is left whole

  function split(data) {
    // each run of non-space longer than LONG, cut after its separators
    return data.split(/(\s+)/).flatMap((w) => (w.length > LONG ? w.split(AFTER) : [w]));
  }

  function breakable(cell) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    const texts = [];
    while (walker.nextNode()) texts.push(walker.currentNode);
    for (const text of texts) {
      const parts = split(text.data);
      if (parts.length < 2) continue;
      const frag = document.createDocumentFragment();
      parts.forEach((part, i) => {
        if (i > 0 && !/^\s/.test(part) && !/\s$/.test(parts[i - 1])) {
          frag.appendChild(document.createElement("wbr"));
        }
        frag.appendChild(document.createTextNode(part));
      });
      text.replaceWith(frag);
    }
  }

  function run() {
    document.querySelectorAll(".bd-article table td, .bd-article table th").forEach(breakable);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", run);
  } else {
    run();
  }
})();

// hookgate console: progressive enhancement only. Every page works without it.
// Copy buttons, and times shown relative ("3 min ago") beside the absolute UTC time.
"use strict";

function relative(then, now) {
  const seconds = Math.round((now - then) / 1000);
  const future = seconds < 0;
  const s = Math.abs(seconds);
  const units = [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]];
  for (const [name, size] of units) {
    if (s >= size || name === "s") {
      const n = Math.floor(s / size);
      return future ? `in ${n} ${name}` : `${n} ${name} ago`;
    }
  }
  return "";
}

function showRelativeTimes() {
  const now = Date.now();
  for (const element of document.querySelectorAll("time[datetime]")) {
    const then = Date.parse(element.getAttribute("datetime"));
    if (Number.isNaN(then)) continue;
    const local = new Date(then).toLocaleString(undefined, { timeZoneName: "short" });
    element.title = `${element.dataset.absolute || element.textContent} (${local})`;
    element.dataset.absolute = element.dataset.absolute || element.textContent;
    element.textContent = `${relative(then, now)} · ${element.dataset.absolute}`;
  }
}

function enableCopyButtons() {
  for (const button of document.querySelectorAll("button.copy[data-copy]")) {
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(button.dataset.copy);
        button.textContent = "Copied";
      } catch (_) {
        button.textContent = "Select and copy";
      }
      setTimeout(() => { button.textContent = "Copy"; }, 1500);
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  showRelativeTimes();
  enableCopyButtons();
  setInterval(showRelativeTimes, 30000);
});

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

// A run page follows the run's timeline live: rows are appended as events are recorded,
// from the same stream the REST API serves; the stream ends after the terminal event.
function followRunTimeline() {
  const live = document.getElementById("live");
  const rows = document.getElementById("timeline-rows");
  if (!live || !rows || live.dataset.ended === "true") return;
  const source = new EventSource(`${live.dataset.stream}?after=${live.dataset.after}`);
  const append = (message) => {
    const event = JSON.parse(message.data);
    const row = document.createElement("tr");
    const cells = [String(event.seq), event.type, "", JSON.stringify(event.data)];
    cells.forEach((text, i) => {
      const cell = document.createElement("td");
      if (i === 2) {
        const time = document.createElement("time");
        time.setAttribute("datetime", event.occurred_at);
        // As the server writes it: "2026-12-06 17:43:46 UTC".
        time.textContent = `${new Date(event.occurred_at).toISOString().slice(0, 19).replace("T", " ")} UTC`;
        cell.appendChild(time);
      } else if (i === 3) {
        const code = document.createElement("code");
        code.textContent = text;
        cell.appendChild(code);
      } else {
        cell.textContent = text;
      }
      row.appendChild(cell);
    });
    rows.appendChild(row);
    live.textContent = `Last event: ${event.type} (seq ${event.seq}).`;
    showRelativeTimes();
    if (["run.completed", "run.failed", "run.cancelled"].includes(event.type)) {
      source.close();
      live.textContent = `The run has ended: ${event.type}. Reload for its final status.`;
    }
  };
  // The console's stream sends every event as a plain message, whatever its type.
  source.onmessage = append;
}

document.addEventListener("DOMContentLoaded", () => {
  showRelativeTimes();
  enableCopyButtons();
  followRunTimeline();
  setInterval(showRelativeTimes, 30000);
});

// alphawatch live page: polls the worker's own JSON endpoints and draws them; no libraries, no build.
"use strict";

(() => {
  const TOKEN_KEY = "alphawatch-web-token";
  const MAX_WINDOWS = 48; // windows per chart: the newest ones
  const SVG_NS = "http://www.w3.org/2000/svg";
  const state = { config: null, windowSize: null, timer: null, expanded: new Set() };

  class Unauthorized extends Error {}

  // ---- token: `?token=` once, then sessionStorage (this tab only); the URL is cleaned at once
  function takeTokenFromUrl() {
    const url = new URL(window.location.href);
    const token = url.searchParams.get("token");
    if (token === null) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    url.searchParams.delete("token");
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }

  async function getJSON(path) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const headers = token ? { Authorization: "Bearer " + token } : {};
    const response = await fetch(path, { headers, cache: "no-store" });
    if (response.status === 401) throw new Unauthorized(path);
    if (!response.ok) throw new Error(path + " answered HTTP " + response.status);
    return response.json();
  }

  // ---- small DOM helpers: text nodes only, never parsed as HTML, so ids and reasons cannot inject markup
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) {
        node.append(child instanceof Node ? child : String(child));
      }
    }
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    for (const child of children) node.append(child instanceof Node ? child : String(child));
    return node;
  }

  function replace(id, ...children) {
    document.getElementById(id).replaceChildren(...children.flat());
  }

  function fixed(value, digits = 3) {
    return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
  }

  function utc(iso) {
    return iso ? iso.replace("T", " ").replace(/:\d\d(\.\d+)?(Z|\+00:00)$/, " UTC") : "–";
  }

  function duration(seconds) {
    const units = [[604800, "w"], [86400, "d"], [3600, "h"], [60, "m"]];
    for (const [size, name] of units) if (seconds % size === 0) return seconds / size + name;
    return seconds + "s";
  }

  function setStatus(text, isError) {
    const status = document.getElementById("status");
    status.textContent = text;
    status.className = isError ? "error" : "muted";
  }

  // ---- open flags, each with its explanation
  function flagCard(flag) {
    const people = (flag.top_annotators || []).map((a) => el("li", {},
      `${a.annotator_id}: mean disagreement ${fixed(a.mean_disagreement)}, `
      + `${fixed(100 * a.share_of_disagreement, 1)}% of the disagreement over ${a.pairs} pairs`));
    const values = (flag.confused_values || []).map((v) => el("li", {},
      `${v.values}: ${fixed(100 * v.share_of_pairs, 1)}% of pairs`));
    return el("article", { class: "flag", "data-flag-id": flag.flag_id },
      el("h3", {}, `${flag.dimension} · ${flag.slice} · ${duration(flag.window_size_s)} window`),
      el("p", {}, `alpha ${fixed(flag.alpha)} [${fixed(flag.ci_low)}, ${fixed(flag.ci_high)}] `
        + `below the threshold ${fixed(flag.threshold)}: P(below) ${fixed(flag.p_below_threshold)}`
        + (flag.required_confidence ? ` (required ${fixed(flag.required_confidence)})` : "")
        + `, ${fixed(flag.n_pairable_values, 0)} pairable values`),
      el("p", { class: "muted" }, `window ${utc(flag.window_start)} – ${utc(flag.window_end)}`
        + (flag.final ? " (final)" : " (still open when raised)") + `; raised ${utc(flag.raised_at)}`),
      explanation(flag, people, values));
  }

  // a slice's flag folds its explanation away: the dimension's flag over all clips comes first
  function explanation(flag, people, values) {
    const parts = [el("p", {}, flag.reason), el("div", { class: "explain" },
      people.length ? el("div", {}, el("p", {}, "annotators disagreeing most:"), el("ul", {}, people)) : null,
      values.length ? el("div", {}, el("p", {}, "values mixed up:"), el("ul", {}, values)) : null)];
    if (flag.slice === "all") return parts;
    // the cards are drawn again on every refresh: an explanation the user opened stays open
    const details = el("details", { open: state.expanded.has(flag.flag_id) ? "" : null },
      el("summary", {}, "explanation"), parts);
    details.addEventListener("toggle", () => {
      if (details.open) state.expanded.add(flag.flag_id);
      else state.expanded.delete(flag.flag_id);
    });
    return details;
  }

  function drawFlags(data) {
    // a dimension's flag over all clips first, then the slices that explain it
    const open = (data.open || []).slice().sort((a, b) => (a.slice !== "all") - (b.slice !== "all")
      || a.dimension.localeCompare(b.dimension) || a.slice.localeCompare(b.slice));
    document.getElementById("flags-count").textContent = `(${open.length} open, ${data.cleared} cleared)`;
    replace("flags", open.length ? open.map(flagCard)
      : el("p", { class: "none" }, "no open flag: every dimension is at or above its threshold"));
  }

  // ---- alpha charts: one SVG per dimension, event time on x, alpha on y
  const W = 520, H = 190, LEFT = 36, RIGHT = 10, TOP = 10, BOTTOM = 24;

  function series(records, dimension) {
    const rows = records.filter((r) => r.dimension === dimension);
    rows.sort((a, b) => a.window_start.localeCompare(b.window_start));
    return rows.slice(-MAX_WINDOWS);
  }

  function yRange(rows, threshold) {
    const lows = rows.map((r) => (r.ci_low !== null ? r.ci_low : r.alpha)).filter((v) => v !== null);
    const low = Math.min(0, threshold - 0.1, ...lows);
    return [Math.max(-1, Math.floor(low * 5) / 5), 1];
  }

  function chart(dimension, rows, threshold, flagged) {
    const [y0, y1] = yRange(rows, threshold);
    const start = (r) => Date.parse(r.window_start) / 1000;
    const t0 = rows.length ? start(rows[0]) : 0;
    const size = rows.length ? rows[0].window_size_s : 3600;
    const t1 = rows.length ? start(rows[rows.length - 1]) + size : t0 + size;
    const x = (t) => LEFT + (W - LEFT - RIGHT) * (t - t0) / Math.max(t1 - t0, 1);
    const y = (v) => TOP + (H - TOP - BOTTOM) * (y1 - v) / (y1 - y0);
    const plot = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img",
      "aria-label": `alpha of ${dimension} per window` });
    for (const r of rows.filter((row) => flagged.has(row.window_start))) {
      plot.append(svg("rect", { class: "flagged", x: x(start(r)), y: TOP,
        width: Math.max(x(start(r) + size) - x(start(r)), 1), height: H - TOP - BOTTOM }));
    }
    for (let v = y0; v <= y1 + 1e-9; v += 0.2) {
      plot.append(svg("line", { class: "grid", x1: LEFT, x2: W - RIGHT, y1: y(v), y2: y(v) }));
      plot.append(svg("text", { class: "axis-label", x: LEFT - 4, y: y(v) + 3, "text-anchor": "end" },
        v.toFixed(1)));
    }
    plot.append(svg("line", { class: "threshold", x1: LEFT, x2: W - RIGHT, y1: y(threshold), y2: y(threshold) }));
    plot.append(svg("text", { class: "threshold-label", x: W - RIGHT, y: y(threshold) - 3, "text-anchor": "end" },
      `threshold ${threshold}`));
    const defined = rows.filter((r) => r.alpha !== null);
    const mid = (r) => x(start(r) + size / 2);
    if (defined.length > 1) {
      plot.append(svg("polyline", { class: "alpha-line",
        points: defined.map((r) => `${mid(r)},${y(r.alpha)}`).join(" ") }));
    }
    for (const r of defined) {
      if (r.ci_low !== null && r.ci_high !== null) {
        plot.append(svg("line", { class: "ci", x1: mid(r), x2: mid(r), y1: y(r.ci_low), y2: y(r.ci_high) }));
      }
      const kind = ["point", r.final ? "final" : "open", r.alpha < threshold ? "below" : ""].join(" ").trim();
      plot.append(svg("circle", { class: kind, cx: mid(r), cy: y(r.alpha), r: 3.5 },
        svg("title", {}, `${utc(r.window_start)}: alpha ${fixed(r.alpha)} [${fixed(r.ci_low)}, `
          + `${fixed(r.ci_high)}], ${fixed(r.n_pairable_values, 0)} pairable values, `
          + `${r.n_annotators} annotators, ${r.final ? "final" : "open"}`)));
    }
    if (rows.length) {
      for (const [t, anchor] of [[t0, "start"], [t1, "end"]]) {
        plot.append(svg("text", { class: "axis-label", x: x(t), y: H - 6, "text-anchor": anchor },
          new Date(t * 1000).toISOString().slice(5, 16).replace("T", " ") + " UTC"));
      }
    }
    return plot;
  }

  function drawCharts(records, flags) {
    const { dimensions, thresholds } = state.config;
    const cards = [];
    for (const dimension of dimensions) {
      const rows = series(records, dimension);
      if (!rows.length && dimension.includes(".")) continue; // pairwise dimensions show once they have data
      const flagged = new Set((flags.open || []).filter((f) => f.dimension === dimension
        && f.slice === "all" && f.window_size_s === state.windowSize).map((f) => f.window_start));
      const last = rows.filter((r) => r.alpha !== null).pop();
      cards.push(el("figure", { class: "chart", "data-dimension": dimension },
        el("h3", {}, dimension, el("span", { class: "muted" },
          last ? `latest alpha ${fixed(last.alpha)}` : "no alpha yet")),
        rows.length ? chart(dimension, rows, thresholds[dimension], flagged)
          : el("p", { class: "muted" }, "no window yet")));
    }
    replace("charts", cards);
  }

  // ---- annotators by state, batches, leaderboards
  function drawAnnotators(counts, retraining) {
    const total = Object.values(counts.counts).reduce((a, b) => a + b, 0);
    const rows = state.config.annotator_states.map((name) => {
      const count = counts.counts[name] || 0;
      const bar = el("span", { class: "bar " + name });
      bar.style.width = (total ? 10 * count / total : 0) + "rem"; // CSSOM: allowed by the page's CSP
      return el("tr", { "data-state": name }, el("td", {}, name), el("td", { class: "num" }, count),
        el("td", {}, bar));
    });
    const names = retraining.annotators.length ? retraining.annotators.join(", ") : "nobody";
    replace("annotators",
      el("table", {}, el("tr", {}, el("th", {}, "state"), el("th", { class: "num" }, "annotators"),
        el("th", {}, "")), rows),
      el("p", {}, "in retraining: " + names
        + (retraining.count > retraining.annotators.length ? ` (and ${retraining.count - retraining.annotators.length} more)` : "")));
  }

  function drawBatches(data) {
    document.getElementById("batch-length").textContent = `(${data.batch_length} each; closed ones)`;
    if (!data.batches.length) {
      replace("batches", el("p", { class: "muted" }, "no batch closed yet: a batch closes when its "
        + "event-time span plus grace has passed on every partition"));
      return;
    }
    const head = el("tr", {}, ["batch", "state", "answers in", "received", "left out", "records"]
      .map((h, i) => el("th", { class: i > 1 ? "num" : null }, h)));
    const rows = data.batches.map((b) => {
      const left = Object.values(b.exclusions).reduce((a, c) => a + c, 0);
      const records = Object.values(b.record_counts).reduce((a, c) => a + c, 0);
      return el("tr", { "data-batch-id": b.batch_id }, el("td", {}, b.batch_id),
        el("td", {}, b.state + (b.revision > 1 ? ` (rev ${b.revision})` : "")),
        el("td", { class: "num" }, b.answers_included), el("td", { class: "num" }, b.answers_received),
        el("td", { class: "num" }, left), el("td", { class: "num" }, records));
    });
    replace("batches", el("table", {}, head, rows));
  }

  function leaderboard(record) {
    const head = el("tr", {}, ["#", "model", "score", "95% interval", "votes"]
      .map((h, i) => el("th", { class: i === 1 ? null : "num" }, h)));
    const rows = record.models.map((m) => el("tr", {},
      el("td", { class: "num" }, m.rank === null ? "–" : m.rank), el("td", {}, m.model_id),
      el("td", { class: "num" }, m.score === null ? (m.score_reason || "–") : fixed(m.score, 0)),
      el("td", { class: "num" }, m.ci_low === null ? "–" : `${fixed(m.ci_low, 0)} – ${fixed(m.ci_high, 0)}`),
      el("td", { class: "num" }, m.votes)));
    return el("table", { "data-modality": record.modality },
      el("caption", {}, `${record.modality} · ${record.dimension} `,
        el("span", { class: "muted" }, `${record.votes} votes, ${record.annotators} annotators`)),
      head, rows);
  }

  function drawRankings(boards) {
    // the overall leaderboard of each modality (the endpoint lists it first)
    const tables = boards.filter((b) => b.length).map((b) => leaderboard(b[0]));
    replace("rankings", tables.length ? tables : el("p", { class: "muted" }, "no pairwise votes ranked yet"));
  }

  // ---- polling
  function setupWindows() {
    const select = document.getElementById("window-select");
    select.replaceChildren(...state.config.windows.map((s) => el("option", { value: s }, duration(s))));
    state.windowSize = state.config.windows[0];
    select.addEventListener("change", () => {
      state.windowSize = Number(select.value);
      refreshNow();
    });
  }

  async function refresh() {
    if (!state.config) {
      state.config = await getJSON("/config");
      setupWindows();
    }
    const [records, flags, counts, retraining, batches, ...boards] = await Promise.all([
      getJSON(`/agreement?state=all&slice=all&window=${state.windowSize}`),
      getJSON("/flags"),
      getJSON("/annotators"),
      getJSON("/annotators?state=retraining&limit=50"),
      getJSON("/batches?limit=12"),
      ...state.config.modalities.map((m) => getJSON("/rankings/" + m)),
    ]);
    drawFlags(flags);
    drawCharts(records, flags);
    drawAnnotators(counts, retraining);
    drawBatches(batches);
    drawRankings(boards);
  }

  async function refreshNow() {
    clearTimeout(state.timer);
    try {
      await refresh();
      document.getElementById("token-form").hidden = true;
      setStatus(`updated ${new Date().toISOString().slice(11, 19)} UTC, every ${state.config.refresh_s} s`);
    } catch (err) {
      if (err instanceof Unauthorized) {
        // polling stops until a token is given: every request would only be refused again
        document.getElementById("token-form").hidden = false;
        setStatus("this worker needs its web token", true);
        return;
      }
      setStatus(`refresh failed (${err.message}); trying again`, true);
    }
    const every = state.config ? state.config.refresh_s : 5;
    state.timer = setTimeout(refreshNow, every * 1000);
  }

  function start() {
    takeTokenFromUrl();
    document.getElementById("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, document.getElementById("token-input").value.trim());
      refreshNow();
    });
    refreshNow();
  }

  start();
})();

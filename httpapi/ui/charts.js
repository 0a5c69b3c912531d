// charts.js: the dashboard's charts, drawn as inline SVG by hand. No
// dependency: a few hundred lines cover every chart the pages need
// (lines, points with error bars, bands, bars, a waterfall), work offline,
// and leave countable DOM nodes that the browser test checks.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
export const palette = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];

function el(tag, attrs, parent) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function text(parent, x, y, s, attrs) {
  const t = el("text", Object.assign({ x, y }, attrs || {}), parent);
  t.textContent = s;
  return t;
}

// niceTicks returns about n round numbers covering [lo, hi].
function niceTicks(lo, hi, n) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, n);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

export function fmtNum(v) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(0) + "k";
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return +v.toFixed(2) + "";
  return +v.toPrecision(2) + "";
}

function fmtTime(ms, span) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, "0");
  if (span < 2 * 86400e3) return p(d.getHours()) + ":" + p(d.getMinutes()) + (span < 600e3 ? ":" + p(d.getSeconds()) : "");
  return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate());
}

function extent(values, pad) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (lo === Infinity) return [0, 1];
  if (lo === hi) { lo -= Math.abs(lo) * 0.1 || 0.5; hi += Math.abs(hi) * 0.1 || 0.5; }
  const p = (hi - lo) * (pad || 0);
  return [lo - p, hi + p];
}

// frame prepares a chart in container: it clears it, and returns the svg,
// the plot area and a finish function that records how many data marks
// were drawn (data-marks, which the browser test reads).
function frame(container, opts) {
  container.textContent = "";
  container.classList.add("chart");
  if (opts.title) {
    const h = document.createElement("h3");
    h.textContent = opts.title;
    container.appendChild(h);
  }
  const W = opts.width || 560, H = opts.height || 260;
  const m = Object.assign({ top: 12, right: 16, bottom: 44, left: 56 }, opts.margin || {});
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": opts.title || "chart" });
  container.appendChild(svg);
  let marks = 0;
  const area = { x0: m.left, x1: W - m.right, y0: H - m.bottom, y1: m.top, W, H };
  return {
    svg, area,
    mark(node) { node.classList.add("mark"); marks++; return node; },
    finish(legend) {
      if (legend && legend.length) {
        const lg = document.createElement("div");
        lg.className = "legend";
        for (const it of legend) {
          const s = document.createElement("span");
          const sw = document.createElement("i");
          sw.style.background = it.color;
          s.appendChild(sw);
          s.appendChild(document.createTextNode(it.label));
          lg.appendChild(s);
        }
        container.appendChild(lg);
      }
      if (marks === 0) text(svg, W / 2, H / 2, "no data yet", { "text-anchor": "middle", class: "empty" });
      container.dataset.marks = marks;
    },
  };
}

// xy draws layers on linear, time or categorical axes.
//   opts.x: {kind: "linear"|"time"|"category", categories, min, max, label, format}
//   opts.y: {min, max, label, format}
//   opts.layers: [{type: "line"|"points"|"errorbars"|"band"|"bars"|"hline"|"diagonal", data, color, label, ...}]
// data are [x, y] for line, points (optionally [x, y, r, tooltip]) and bars,
// [x, lo, hi] for errorbars and band; hline has y.
export function xy(container, opts) {
  const f = frame(container, opts);
  const { svg, area } = f;
  const X = opts.x || {}, Y = opts.y || {};
  const layers = (opts.layers || []).filter((l) => l.type === "hline" || l.type === "diagonal" || (l.data && l.data.length));
  const xs = [], ys = [];
  for (const l of layers) {
    if (l.type === "hline") { ys.push(l.y); continue; }
    if (l.type === "diagonal") continue;
    for (const d of l.data) {
      xs.push(d[0]);
      if (l.type === "errorbars" || l.type === "band") ys.push(d[1], d[2]); else ys.push(d[1]);
      if (l.type === "bars") ys.push(0);
    }
  }
  let xlo, xhi;
  if (X.kind === "category") { xlo = -0.5; xhi = X.categories.length - 0.5; }
  else { [xlo, xhi] = extent(xs, X.kind === "time" ? 0 : 0.04); }
  if (X.min !== undefined) xlo = X.min;
  if (X.max !== undefined) xhi = X.max;
  let [ylo, yhi] = extent(ys, 0.08);
  if (Y.min !== undefined) ylo = Y.min;
  if (Y.max !== undefined) yhi = Y.max;
  const sx = (v) => area.x0 + ((v - xlo) / (xhi - xlo)) * (area.x1 - area.x0);
  const sy = (v) => area.y0 - ((v - ylo) / (yhi - ylo)) * (area.y0 - area.y1);
  const yfmt = Y.format || fmtNum;
  // Grid and axes.
  const g = el("g", { class: "axis" }, svg);
  for (const t of niceTicks(ylo, yhi, 5)) {
    el("line", { x1: area.x0, x2: area.x1, y1: sy(t), y2: sy(t), class: "grid" }, g);
    text(g, area.x0 - 6, sy(t) + 4, yfmt(t), { "text-anchor": "end" });
  }
  if (X.kind === "category") {
    X.categories.forEach((c, i) => text(g, sx(i), area.y0 + 16, c, { "text-anchor": "middle" }));
  } else {
    const xt = niceTicks(xlo, xhi, X.kind === "time" ? 4 : 6);
    const xf = X.format || (X.kind === "time" ? (v) => fmtTime(v, xhi - xlo) : fmtNum);
    for (const t of xt) {
      el("line", { x1: sx(t), x2: sx(t), y1: area.y0, y2: area.y0 + 4, class: "tick" }, g);
      text(g, sx(t), area.y0 + 16, xf(t), { "text-anchor": "middle" });
    }
  }
  el("line", { x1: area.x0, x2: area.x1, y1: area.y0, y2: area.y0, class: "baseline" }, g);
  if (X.label) text(g, (area.x0 + area.x1) / 2, area.H - 6, X.label, { "text-anchor": "middle", class: "label" });
  if (Y.label) text(g, 12, (area.y0 + area.y1) / 2, Y.label, { "text-anchor": "middle", class: "label", transform: `rotate(-90 12 ${(area.y0 + area.y1) / 2})` });
  // Layers.
  const legend = [];
  const clip = el("g", {}, svg);
  layers.forEach((l, i) => {
    const color = l.color || palette[i % palette.length];
    if (l.label) legend.push({ label: l.label, color });
    const title = (node, s) => { if (s) el("title", {}, node).textContent = s; return node; };
    switch (l.type) {
      case "diagonal": {
        const lo = Math.max(xlo, ylo), hi = Math.min(xhi, yhi);
        el("line", { x1: sx(lo), y1: sy(lo), x2: sx(hi), y2: sy(hi), class: "ref" }, clip);
        break;
      }
      case "hline":
        el("line", { x1: area.x0, x2: area.x1, y1: sy(l.y), y2: sy(l.y), stroke: color, "stroke-dasharray": l.dash || "5 4", class: "hline" }, clip);
        break;
      case "band": {
        const up = l.data.map((d) => `${sx(d[0])},${sy(d[2])}`);
        const down = l.data.slice().reverse().map((d) => `${sx(d[0])},${sy(d[1])}`);
        f.mark(el("polygon", { points: up.concat(down).join(" "), fill: color, "fill-opacity": l.opacity || 0.15, stroke: "none" }, clip));
        break;
      }
      case "line":
        f.mark(el("path", { d: "M" + l.data.map((d) => `${sx(d[0])},${sy(d[1])}`).join("L"), fill: "none", stroke: color, "stroke-width": l.width || 2, "stroke-dasharray": l.dash || "none" }, clip));
        if (l.dots) for (const d of l.data) f.mark(title(el("circle", { cx: sx(d[0]), cy: sy(d[1]), r: 3, fill: color }, clip), d[3]));
        break;
      case "points":
        for (const d of l.data) f.mark(title(el("circle", { cx: sx(d[0]), cy: sy(d[1]), r: d[2] || 4, fill: color, "fill-opacity": 0.75, stroke: "#fff" }, clip), d[3]));
        break;
      case "errorbars":
        for (const d of l.data) {
          const x = sx(d[0]);
          f.mark(el("path", { d: `M${x - 6},${sy(d[1])}H${x + 6}M${x},${sy(d[1])}V${sy(d[2])}M${x - 6},${sy(d[2])}H${x + 6}`, stroke: color, "stroke-width": 1.5, fill: "none" }, clip));
        }
        break;
      case "bars": {
        const n = l.groups || 1, k = l.group || 0;
        const slot = X.kind === "category" ? (sx(1) - sx(0)) * 0.7 : 8;
        const w = slot / n;
        for (const d of l.data) {
          const x = sx(d[0]) - slot / 2 + k * w, y0 = sy(Math.max(0, d[1])), y1 = sy(Math.min(0, d[1]));
          f.mark(title(el("rect", { x, y: y0, width: Math.max(1, w - 2), height: Math.max(1, y1 - y0), fill: color }, clip), d[3] || `${fmtNum(d[1])}`));
          if (l.values) text(clip, x + (w - 2) / 2, y0 - 4, (l.valueFormat || fmtNum)(d[1]), { "text-anchor": "middle", class: "value" });
        }
        break;
      }
    }
  });
  f.finish(opts.legend === false ? [] : legend);
}

// hbars draws labelled horizontal bars: items [{label, value, color}].
export function hbars(container, items, opts) {
  opts = opts || {};
  const rowH = 26;
  const f = frame(container, Object.assign({ height: 24 + rowH * Math.max(items.length, 2), margin: { left: 150, right: 60, bottom: 12 } }, opts));
  const { svg, area } = f;
  const max = Math.max(...items.map((i) => i.value), 0) || 1;
  const fmt = opts.format || fmtNum;
  items.forEach((it, i) => {
    const y = area.y1 + i * rowH;
    text(svg, area.x0 - 8, y + rowH / 2 + 4, it.label, { "text-anchor": "end" });
    const w = ((area.x1 - area.x0) * Math.max(0, it.value)) / max;
    f.mark(el("rect", { x: area.x0, y: y + 4, width: Math.max(1, w), height: rowH - 8, fill: it.color || palette[0] }, svg));
    text(svg, area.x0 + w + 6, y + rowH / 2 + 4, fmt(it.value), { class: "value" });
  });
  f.finish();
}

// waterfall draws a start value, signed steps and the end value:
// steps [{label, delta}], the bars float from the running total.
export function waterfall(container, start, steps, opts) {
  opts = opts || {};
  const f = frame(container, Object.assign({ height: 320, margin: { bottom: 96, left: 64 } }, opts));
  const { svg, area } = f;
  const cols = [{ label: opts.startLabel || "bias", from: 0, to: start, kind: "total" }];
  let run = start;
  for (const s of steps) { cols.push({ label: s.label, tip: s.tip, from: run, to: run + s.delta, kind: s.delta >= 0 ? "up" : "down" }); run += s.delta; }
  cols.push({ label: opts.endLabel || "total", from: 0, to: run, kind: "total" });
  const [lo, hi] = extent(cols.flatMap((c) => [c.from, c.to]).concat([0]), 0.08);
  const sy = (v) => area.y0 - ((v - lo) / (hi - lo)) * (area.y0 - area.y1);
  const slot = (area.x1 - area.x0) / cols.length;
  const g = el("g", { class: "axis" }, svg);
  for (const t of niceTicks(lo, hi, 5)) {
    el("line", { x1: area.x0, x2: area.x1, y1: sy(t), y2: sy(t), class: "grid" }, g);
    text(g, area.x0 - 6, sy(t) + 4, fmtNum(t), { "text-anchor": "end" });
  }
  el("line", { x1: area.x0, x2: area.x1, y1: sy(0), y2: sy(0), class: "baseline" }, g);
  if (opts.yLabel) text(g, 12, (area.y0 + area.y1) / 2, opts.yLabel, { "text-anchor": "middle", class: "label", transform: `rotate(-90 12 ${(area.y0 + area.y1) / 2})` });
  const colors = { total: "#64748b", up: "#16a34a", down: "#dc2626" };
  cols.forEach((c, i) => {
    const x = area.x0 + i * slot + slot * 0.15, w = slot * 0.7;
    const y0 = sy(Math.max(c.from, c.to)), y1 = sy(Math.min(c.from, c.to));
    const r = f.mark(el("rect", { x, y: y0, width: w, height: Math.max(1, y1 - y0), fill: colors[c.kind] }, svg));
    el("title", {}, r).textContent = `${c.tip || c.label}: ${c.kind === "total" ? fmtNum(c.to) : (c.to - c.from >= 0 ? "+" : "") + fmtNum(c.to - c.from)}`;
    if (i < cols.length - 1) el("line", { x1: x + w, x2: x + slot, y1: sy(c.to), y2: sy(c.to), class: "ref" }, svg);
    const lx = x + w / 2, ly = area.y0 + 14;
    text(svg, lx, ly, c.label, { "text-anchor": "end", transform: `rotate(-30 ${lx} ${ly})` });
    const d = c.kind === "total" ? c.to : c.to - c.from;
    text(svg, lx, y0 - 4, (c.kind !== "total" && d >= 0 ? "+" : "") + fmtNum(d), { "text-anchor": "middle", class: "value" });
  });
  f.finish([{ label: "raises", color: colors.up }, { label: "lowers", color: colors.down }, { label: "bias / total", color: colors.total }]);
}

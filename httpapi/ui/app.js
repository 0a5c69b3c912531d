// app.js: Lift's dashboard. Every number comes from the public JSON API,
// sent with the bearer token the user enters (kept for this tab only, in
// sessionStorage). Without a token the server refuses and nothing shows.
"use strict";
import { xy, hbars, waterfall, palette, fmtNum } from "./charts.js";

const main = document.getElementById("main");
const TOKEN_KEY = "lift.token";

class Unauthorized extends Error {}
// Stale: the page was left (another route began) before its answers came.
class Stale extends Error {}

let generation = 0;
// painter returns what a page paints itself with: it replaces the page's
// content unless another route began after the page started, and then
// stops the page (a slow page would otherwise paint over the one the user
// went to, or over the token prompt after "Forget token").
function painter() {
  const gen = generation;
  return (...nodes) => {
    if (gen !== generation) throw new Stale();
    main.replaceChildren(...nodes);
  };
}

async function api(path, init) {
  init = init || {};
  const headers = Object.assign({ Accept: "application/json" }, init.headers || {});
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  const res = await fetch(path, Object.assign({}, init, { headers }));
  if (res.status === 401) throw new Unauthorized("the server wants a token");
  // A proxy in front of the server may answer an error page, not JSON.
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${path}: ${(body && body.detail) || `${res.status} ${res.statusText}`.trim()}`);
  if (body === null) throw new Error(`${path}: the answer is not JSON`);
  return body;
}

function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

const pct = (v, d) => (v === null || v === undefined ? "–" : (100 * v).toFixed(d === undefined ? 2 : d) + "%");
// rewardFormat writes an experiment's rewards: as percentages when they
// lie in [0, 1] (click or no click), else as numbers (revenue, say).
const rewardFormat = (e) => {
  const rr = (e && e.reward_range) || [0, 1];
  return rr[0] >= 0 && rr[1] <= 1 ? pct : (v) => (v === null || v === undefined ? "–" : fmtNum(v));
};
const num = (v, d) => (v === null || v === undefined ? "–" : (+v).toFixed(d === undefined ? 4 : d));
// observedMean is a variant's mean reward, null when it has no trials (the
// API answers 0 then).
const observedMean = (v) => (v.trials > 0 ? v.mean : null);
const when = (s) => (s ? new Date(s).toLocaleString() : "–");
// How many experiments the overview fetches stats for.
const OVERVIEW_EXPERIMENTS = 20;
const chart = () => h("div", { class: "chart" });
const card = (title, ...body) => h("section", { class: "card" }, h("h2", {}, title), ...body);
const table = (head, rows) => h("table", {}, h("thead", {}, h("tr", {}, head.map((c) => h("th", {}, c)))), h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))));
// Ids are the users' text: dir="auto" (and bdi) keep a right-to-left id
// or a stray direction mark from reordering the text around it.
const link = (href, text) => h("a", { href, dir: "auto" }, text);
const bdi = (text) => h("bdi", {}, text);

function askToken(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  const input = h("input", { type: "password", id: "token", autocomplete: "off", placeholder: "API token" });
  const note = h("p", { id: "token-note", class: "error" });
  const form = h("form", { id: "token-form", class: "card", onsubmit: (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    // A browser cannot send other characters in a header: fetch would fail
    // on every page, with no prompt to correct it.
    if (/[^\x20-\xff]/.test(token)) {
      note.textContent = "The token holds a character a browser cannot send (a curly quote from a copy, say); enter it as it is in the server's token file.";
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    route().then(navTargets);
  } }, h("h2", {}, "API token"), h("p", {}, message), input, h("button", { type: "submit" }, "Show the dashboard"), note);
  main.replaceChildren(form);
  input.focus();
}

// ---- Overview ----

async function overview() {
  const paint = painter();
  const [models, summary, exps, clips] = await Promise.all([
    api("/models"), api("/predictions/summary"), api("/experiments").catch(() => ({ experiments: [] })), api("/clips?limit=12"),
  ]);
  const active = models.models.find((m) => m.active);
  const mm = active && active.metrics;
  const activeCard = card("Active model", active
    ? h("dl", { class: "kv" },
        h("dt", {}, "version"), h("dd", {}, link(`#/model/${active.version}`, `v${active.version}`)),
        h("dt", {}, "trained at"), h("dd", {}, when(active.created_at)),
        h("dt", {}, "holdout log loss"), h("dd", {}, mm ? num(mm.logloss) : "–"),
        h("dt", {}, "holdout AUC"), h("dd", {}, mm ? num(mm.auc, 3) : "–"),
        h("dt", {}, "calibration error (ECE)"), h("dd", {}, mm ? pct(mm.ece) : "–"),
        h("dt", {}, "heuristic log loss"), h("dd", {}, mm ? num(mm.heuristic_logloss) : "–"))
    : h("p", {}, "No model yet: the heuristic answers. Train one with POST /train/ctr-model."));
  const runs = card("Recent training runs", table(["version", "trained", "rows", "log loss", "AUC", "status", "why"],
    models.models.slice(0, 10).map((m) => [link(`#/model/${m.version}`, `v${m.version}`), when(m.created_at), m.training_rows + m.holdout_rows,
      m.metrics ? num(m.metrics.logloss) : "–", m.metrics ? num(m.metrics.auc, 3) : "–",
      h("span", { class: m.active ? "badge on" : m.activated_at ? "badge" : "badge off" }, m.active ? "active" : m.activated_at ? "was active" : "not promoted"),
      m.note || ""])));
  const bands = ["viral", "high", "medium", "low"];
  const versions = [...new Set(summary.counts.map((c) => c.model_version))];
  const volume = chart();
  const volCard = card(`Prediction volume by band (${summary.total} recorded)`, volume);
  // The first OVERVIEW_EXPERIMENTS experiments with their stats, the rest
  // as links; an experiment whose stats fail says so in its row.
  const shown = exps.experiments.slice(0, OVERVIEW_EXPERIMENTS), rest = exps.experiments.slice(OVERVIEW_EXPERIMENTS);
  const expRows = await Promise.all(shown.map(async (e) => {
    const name = link(`#/experiment/${encodeURIComponent(e.id)}`, e.id);
    let st;
    try {
      st = await api(`/experiments/${encodeURIComponent(e.id)}/stats`);
    } catch (err) {
      if (err instanceof Unauthorized) throw err;
      return [name, h("span", { class: "error" }, "stats unavailable: " + err.message), e.variants.length, "–", "–", "–", "–"];
    }
    const best = st.variants.find((v) => v.id === st.best_variant);
    return [name, st.policy, e.variants.length, st.decisions_rewarded,
      st.best_variant ? bdi(st.best_variant) : "–", best ? rewardFormat(e)(observedMean(best)) : "–", best ? pct(best.p_best, 0) : "–"];
  }));
  const expCard = card("Experiments", expRows.length ? table(["experiment", "policy", "variants", "rewarded", "leader", "leader's mean", "P(best)"], expRows) : h("p", {}, "No experiments."),
    rest.length ? h("p", { class: "clips" }, `${rest.length} more: `, rest.map((e) => link(`#/experiment/${encodeURIComponent(e.id)}`, e.id))) : null);
  const clipCard = card("Clips", h("p", { class: "clips" }, clips.clips.map((c) => link(`#/clip/${encodeURIComponent(c.clip_id || c.id)}`, c.clip_id || c.id))));
  paint(h("div", { class: "grid" }, activeCard, volCard), runs, expCard, clipCard);
  xy(volume, {
    x: { kind: "category", categories: bands }, y: { label: "predictions", min: 0 },
    layers: versions.map((v, i) => ({
      type: "bars", groups: versions.length, group: i, label: v === null ? "heuristic" : `model v${v}`, color: palette[i % palette.length],
      data: bands.map((b, j) => [j, summary.counts.filter((c) => c.band === b && c.model_version === v).reduce((s, c) => s + c.count, 0)]),
    })),
  });
}

// ---- Model ----

async function modelPage(version, message) {
  const paint = painter();
  const [m, models, imp] = await Promise.all([api(`/models/${version}`), api("/models"), api(`/models/${version}/importance?type=gain`)]);
  const mm = m.metrics;
  const rel = chart(), counts = chart(), impC = chart(), across = chart(), acrossAUC = chart();
  const status = h("p", { id: "activate-status" }, message || "");
  const btn = h("button", { id: "activate", class: "danger", onclick: async () => {
    if (!confirm(`Activate model v${version}? It will answer every prediction from now on.`)) return;
    btn.disabled = true;
    try {
      const out = await api(`/models/${version}/activate`, { method: "POST" });
      await modelPage(version, `v${out.version} is now active.`);
    } catch (e) {
      status.textContent = "Activation failed: " + e.message;
      btn.disabled = false;
    }
  } }, "Activate this version");
  const header = card(`Model v${m.version}`,
    h("dl", { class: "kv" },
      h("dt", {}, "status"), h("dd", {}, h("span", { class: m.active ? "badge on" : "badge off" }, m.active ? "active" : "inactive")),
      h("dt", {}, "trained at"), h("dd", {}, when(m.created_at)),
      h("dt", {}, "source / objective"), h("dd", {}, `${m.source} / ${m.objective}`),
      h("dt", {}, "rows (train / holdout)"), h("dd", {}, `${m.training_rows} / ${m.holdout_rows}`),
      h("dt", {}, "holdout log loss"), h("dd", {}, mm ? num(mm.logloss) : "–"),
      h("dt", {}, "holdout AUC"), h("dd", {}, mm ? num(mm.auc, 3) : "–"),
      h("dt", {}, "ECE"), h("dd", {}, mm ? pct(mm.ece) : "–"),
      h("dt", {}, "interval coverage"), h("dd", {}, mm ? pct(mm.interval_coverage, 0) : "–"),
      h("dt", {}, "note"), h("dd", {}, m.note || "")),
    m.active ? h("p", {}, "This version answers predictions.") : btn, status);
  paint(header,
    h("div", { class: "grid" }, card("Reliability: predicted vs observed CTR per bin", rel, counts), card("Feature importance (gain)", impC)),
    h("div", { class: "grid" }, card("Holdout log loss across versions", across), card("Holdout AUC and ECE across versions", acrossAUC)));
  const bins = (mm && mm.reliability || []).filter((b) => b.impressions > 0);
  const maxImp = Math.max(1, ...bins.map((b) => b.impressions));
  xy(rel, {
    x: { label: "predicted CTR", min: 0, format: (v) => pct(v, 1) }, y: { label: "observed CTR", min: 0, format: (v) => pct(v, 1) },
    layers: [
      { type: "diagonal" },
      { type: "line", label: "observed", data: bins.map((b) => [b.predicted_ctr, b.observed_ctr]), width: 1 },
      { type: "points", label: "bin (size = impressions)", data: bins.map((b) => [b.predicted_ctr, b.observed_ctr, 3 + 7 * Math.sqrt(b.impressions / maxImp),
        `predicted ${pct(b.predicted_ctr)}, observed ${pct(b.observed_ctr)}, ${b.clips} clips, ${b.impressions} impressions`]) },
    ],
  });
  xy(counts, {
    height: 170, x: { kind: "category", label: "bin's lower edge (predicted CTR)", categories: bins.map((b) => pct(b.lo, 1)) }, y: { label: "clips", min: 0 },
    layers: [{ type: "bars", label: "holdout clips per bin", values: true, data: bins.map((b, i) => [i, b.clips, 0, `${b.clips} clips, ${b.impressions} impressions`]) }],
  });
  hbars(impC, imp.importance.map((x) => ({ label: x.feature, value: x.value })));
  const ms = models.models.filter((x) => x.metrics).slice().reverse();
  const vx = { kind: "category", label: "version", categories: ms.map((x) => "v" + x.version) };
  xy(across, {
    x: vx, y: { label: "log loss", format: (v) => v.toFixed(4) },
    layers: [
      { type: "line", label: "model", dots: true, data: ms.map((x, i) => [i, x.metrics.logloss, 0, `v${x.version}: ${num(x.metrics.logloss)}`]) },
      { type: "line", label: "heuristic", dash: "4 3", data: ms.map((x, i) => [i, x.metrics.heuristic_logloss]) },
      { type: "points", label: "active", color: "#16a34a", data: ms.map((x, i) => [i, x.metrics.logloss, 7, "active"]).filter((d, i) => ms[i].active) },
    ],
  });
  xy(acrossAUC, {
    x: vx, y: { min: 0, max: 1 },
    layers: [
      // A holdout with no clicks (or only clicks) has no AUC: null, left out.
      { type: "line", label: "AUC", dots: true, data: ms.map((x, i) => [i, x.metrics.auc]).filter((d) => d[1] !== null) },
      { type: "line", label: "ECE", dots: true, data: ms.map((x, i) => [i, x.metrics.ece]) },
    ],
  });
}

// ---- Clip ----

async function clipPage(id) {
  const paint = painter();
  const enc = encodeURIComponent(id);
  const [c, ex, outs, preds] = await Promise.all([api(`/clips/${enc}`), api(`/clips/${enc}/explain`), api(`/clips/${enc}/outcomes`), api(`/clips/${enc}/predictions?limit=5`)]);
  const p = ex.prediction;
  const feats = c.features || {};
  const shap = chart(), vs = chart();
  const latest = preds.predictions[0];
  paint(
    h("div", { class: "grid" },
      card(["Clip ", bdi(id)], table(["feature", "value"], Object.entries(feats).map(([k, v]) => [k, num(v, 3)])),
        h("p", {}, `Observed: ${c.clicks} clicks / ${c.impressions} impressions = ${pct(c.actual_ctr)}`)),
      card("Prediction",
        h("dl", { class: "kv" },
          h("dt", {}, "predicted CTR"), h("dd", { id: "predicted" }, pct(p.predicted_ctr)),
          h("dt", {}, "90% interval"), h("dd", {}, `${pct(p.ctr_interval[0])} – ${pct(p.ctr_interval[1])}`),
          h("dt", {}, "band (confidence)"), h("dd", {}, `${p.predicted_band} (${pct(p.confidence, 0)})`),
          h("dt", {}, "answered by"), h("dd", {}, p.model_version ? `model v${p.model_version}` : "heuristic"),
          h("dt", {}, "last recorded"), h("dd", {}, latest ? `${pct(latest.predicted_ctr)} [${pct(latest.ctr_interval[0])}, ${pct(latest.ctr_interval[1])}] by ${latest.model_version ? "v" + latest.model_version : "heuristic"}, ${when(latest.created_at)}` : "never predicted")))),
    h("div", { class: "grid" },
      card("Why: SHAP contributions (log-odds)", shap),
      card("Outcomes against the prediction", vs)));
  if (ex.contributions.length) {
    const steps = ex.contributions.slice().sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution))
      .map((x) => ({ label: x.feature, delta: x.contribution, tip: `${x.feature} = ${fmtNum(x.value)}` }));
    waterfall(shap, ex.bias, steps, { startLabel: "bias", endLabel: `margin (${pct(p.predicted_ctr)})`, yLabel: "margin" });
  } else {
    shap.append(h("p", {}, "The heuristic answers this clip: there is no model to explain."));
  }
  // Each outcome's CTR (size = impressions), the running CTR, and the
  // prediction with its interval.
  const os = outs.outcomes.map((o) => ({ t: Date.parse(o.observed_at), imp: o.impressions, clk: o.clicks }));
  let ci = 0, cc = 0;
  const run = os.map((o) => { ci += o.imp; cc += o.clk; return [o.t, cc / ci]; });
  const maxImp = Math.max(1, ...os.map((o) => o.imp));
  const t0 = os.length ? os[0].t : Date.now(), t1 = os.length ? os[os.length - 1].t : Date.now();
  // A single observation time still gets a readable axis: an hour either side.
  const span = t1 - t0 < 60e3 ? [t0 - 3600e3, t1 + 3600e3] : [t0, t1];
  xy(vs, {
    x: { kind: "time", label: "observed at", min: span[0], max: span[1] }, y: { label: "CTR", min: 0, format: (v) => pct(v, 1) },
    layers: [
      { type: "band", label: "90% interval", color: "#2563eb", data: [[span[0], p.ctr_interval[0], Math.min(p.ctr_interval[1], 1)], [span[1], p.ctr_interval[0], Math.min(p.ctr_interval[1], 1)]] },
      { type: "hline", label: "predicted", color: "#2563eb", y: p.predicted_ctr },
      { type: "points", label: "outcome (size = impressions)", color: "#ea580c", data: os.map((o) => [o.t, o.clk / o.imp, 2 + 6 * Math.sqrt(o.imp / maxImp), `${o.clk}/${o.imp}`]) },
      { type: "line", label: "cumulative CTR", color: "#16a34a", data: run },
    ],
  });
}

// ---- Experiment ----

async function experimentPage(id) {
  const paint = painter();
  const enc = encodeURIComponent(id);
  const [e, st, tl] = await Promise.all([api(`/experiments/${enc}`), api(`/experiments/${enc}/stats`), api(`/experiments/${enc}/timeline`)]);
  const vs = st.variants;
  const rew = rewardFormat(e);
  const color = Object.fromEntries(tl.variants.concat(vs.map((v) => v.id)).map((v, i) => [v, palette[i % palette.length]]));
  const means = chart(), pbest = chart(), share = chart(), cum = chart(), ope = chart();
  paint(
    card(["Experiment ", bdi(id)],
      h("p", {}, `Policy ${st.policy}; ${st.decisions_rewarded} rewarded decisions; leader: `, h("b", { id: "leader", dir: "auto" }, st.best_variant || "–")),
      table(["variant", "trials", "reward", "mean", "95% interval", "P(best)"], vs.map((v) => [bdi(v.id), v.trials, fmtNum(v.reward_sum), rew(observedMean(v)), `${rew(v.ci95[0])} – ${rew(v.ci95[1])}`, pct(v.p_best, 1)]))),
    h("div", { class: "grid" }, card("Mean reward with 95% intervals", means), card("Probability of being best", pbest)),
    h("div", { class: "grid" }, card("Traffic share over time", share), card("Cumulative reward", cum)),
    card("Off-policy estimate: the policy as it ran vs uniform random", ope,
      st.off_policy ? h("p", {}, `From ${st.off_policy.events} logged events. The policy as it ran weighs each decision by the probabilities it was made with (its mean reward); uniform's IPS and SNIPS reweight the logged rewards by 1/K over the logged probability; DR adds a reward model.`) : null));
  const cats = vs.map((v) => v.id);
  xy(means, {
    x: { kind: "category", categories: cats }, y: { label: "mean reward", min: Math.min(0, e.reward_range ? e.reward_range[0] : 0), format: (v) => rew(v, 1) },
    layers: [
      { type: "errorbars", label: "95% interval", color: "#334155", data: vs.map((v, i) => [i, v.ci95[0], v.ci95[1]]) },
      // An untried variant has no observed mean: no point.
      { type: "points", label: "mean", data: vs.map((v, i) => [i, observedMean(v), 5, `${v.id}: ${rew(v.mean)}`]).filter((d) => d[1] !== null) },
    ],
  });
  xy(pbest, {
    x: { kind: "category", categories: cats }, y: { min: 0, max: 1, format: (v) => pct(v, 0) },
    layers: vs.map((v, i) => ({ type: "bars", values: true, valueFormat: (x) => pct(x, 1), color: color[v.id], data: [[i, v.p_best]] })), legend: false,
  });
  const b = tl.buckets;
  xy(share, {
    x: { kind: "time" }, y: { min: 0, max: 1, label: "share of decisions", format: (v) => pct(v, 0) },
    layers: tl.variants.map((v) => ({ type: "line", label: v, color: color[v], data: b.map((x) => [Date.parse(x.end), x.share[v] || 0]) })),
  });
  xy(cum, {
    x: { kind: "time" }, y: { min: 0, label: "reward" },
    layers: tl.variants.map((v) => ({ type: "line", label: v, color: color[v], data: b.map((x) => [Date.parse(x.end), x.cumulative_reward[v] || 0]) })),
  });
  const o = st.off_policy;
  const est = ["ips", "snips", "dr"];
  xy(ope, {
    width: 1100, height: 240, x: { kind: "category", categories: est.map((k) => k.toUpperCase()) }, y: { min: Math.min(0, e.reward_range ? e.reward_range[0] : 0), label: "mean reward", format: (v) => rew(v, 1) },
    layers: o ? [
      { type: "bars", groups: 2, group: 0, label: "policy as run", color: "#2563eb", values: true, valueFormat: (x) => rew(x, 2), data: est.map((k, i) => [i, o.policy[k]]) },
      { type: "bars", groups: 2, group: 1, label: "uniform", color: "#94a3b8", values: true, valueFormat: (x) => rew(x, 2), data: est.map((k, i) => [i, o.uniform[k]]) },
    ] : [],
  });
}

// ---- Routing ----

const routes = [
  [/^#?\/?$/, overview, "overview"],
  [/^#\/model\/(\d+)$/, modelPage, "models"],
  [/^#\/clip\/(.+)$/, (id) => clipPage(decodeURIComponent(id)), "clips"],
  [/^#\/experiment\/(.+)$/, (id) => experimentPage(decodeURIComponent(id)), "experiments"],
];

async function route() {
  const hash = location.hash || "#/";
  const gen = ++generation;
  for (const [re, page, nav] of routes) {
    const m = hash.match(re);
    if (!m) continue;
    document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("here", a.dataset.nav === nav));
    main.setAttribute("aria-busy", "true");
    delete main.dataset.ready;
    try {
      await page(...m.slice(1));
      if (gen === generation) main.dataset.ready = hash;
    } catch (e) {
      if (e instanceof Stale || gen !== generation) return; // another route paints
      if (e instanceof Unauthorized) askToken(sessionStorage.getItem(TOKEN_KEY) ? "That token was refused; enter the server's API token." : "This server needs its API token to show anything.");
      else main.replaceChildren(h("section", { class: "card error" }, h("h2", {}, "Could not load this page"), h("p", {}, e.message)));
    } finally {
      if (gen === generation) main.removeAttribute("aria-busy");
    }
    return;
  }
  main.replaceChildren(h("section", { class: "card error" }, h("p", {}, "No such page: " + hash)));
}

async function navTargets() {
  // The header links to the active model and the first experiment once
  // the token works.
  try {
    const [models, exps] = await Promise.all([api("/models"), api("/experiments").catch(() => ({ experiments: [] }))]);
    const m = models.models.find((x) => x.active) || models.models[0];
    const a = document.querySelector('nav a[data-nav="models"]');
    if (m) a.href = `#/model/${m.version}`;
    const x = document.querySelector('nav a[data-nav="experiments"]');
    if (exps.experiments.length) x.href = `#/experiment/${encodeURIComponent(exps.experiments[0].id)}`;
    const c = document.querySelector('nav a[data-nav="clips"]');
    const clips = await api("/clips?limit=1");
    if (clips.clips.length) c.href = `#/clip/${encodeURIComponent(clips.clips[0].clip_id || clips.clips[0].id)}`;
  } catch (e) { /* the page itself reports it */ }
}

document.getElementById("logout").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); location.hash = "#/"; route(); });
window.addEventListener("hashchange", () => { route(); navTargets(); });
route().then(navTargets);

// The dashboard: fetches the API's chart-shaped answers and draws them with Plotly.js.
// The token comes from ?token= or the form (kept in localStorage; a token from the link is
// taken out of the address bar at once, see tokenFromLink); the page polls health-check
// and reloads its data when a new snapshot has been published (a nightly run, or the alert
// sensors republishing it with new alerts: `snapshot_published_at` changes with both).
"use strict";

const API = "/api/analytics";
const ENDPOINTS = {
  comprehensive: "comprehensive",
  forecast: "revenue-forecast?days=90",
  customers: "customer-behavior",
  funnel: "conversion-funnel",
  roi: "roi-dashboard",
  predictive: "predictive",
  insights: "business-insights",
  alerts: "alerts",
  health: "health-check",
};
// Answers fetched while a new snapshot replaced the old one mix two snapshots: fetch again.
const CONSISTENT_LOAD_ATTEMPTS = 3;
const START_RETRY_SECONDS = 10;
const PERCENT_KPIS = new Set(["net_revenue_growth", "repeat_rate", "churn_rate", "payment_success_rate",
  "conversion_rate", "gross_margin", "net_margin", "roi"]);
const LAYOUT = { margin: { t: 40, r: 20, b: 40, l: 60 }, legend: { orientation: "h" } };
const CONFIG = { responsive: true, displaylogo: false };

let token = tokenFromLink() || localStorage.getItem("analyticsToken");
let data = {};
let currentTab = "overview";

// The token of a `/?token=…` link, stored, then removed from the address bar (history.replaceState,
// no reload): it does not stay in the tab's history entry, a bookmark, a copied link or the
// Referer of the page's later requests. (The server's access log redacts it too: pipelines/api.py.)
function tokenFromLink() {
  const url = new URL(location.href);
  const linked = url.searchParams.get("token");
  if (linked === null) return null;
  if (linked) localStorage.setItem("analyticsToken", linked);
  url.searchParams.delete("token");
  history.replaceState(history.state, "", url);
  return linked;
}

// Every text from the API goes through this before it is put into HTML.
function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function showStatus(message) {
  document.getElementById("status").textContent = message;
}

async function getJson(path) {
  const response = await fetch(`${API}/${path}`, { headers: { Authorization: `Bearer ${token}` } });
  if (response.status === 401) throw new Error("unauthorized");
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

async function fetchAll() {
  const entries = await Promise.all(
    Object.entries(ENDPOINTS).map(async ([name, path]) => [name, await getJson(path)]));
  return Object.fromEntries(entries);
}

async function loadAll() {
  let answers = await fetchAll();
  for (let attempt = 1; attempt < CONSISTENT_LOAD_ATTEMPTS; attempt++) {
    if (new Set(Object.values(answers).map((answer) => answer.snapshot_published_at)).size === 1) break;
    answers = await fetchAll();
  }
  data = answers;
  const health = data.health;
  const published = health.snapshot_published_at !== health.snapshot_built_at ?
    `, alerts updated ${new Date(health.snapshot_published_at).toLocaleString()}` : "";
  document.getElementById("snapshot").textContent =
    `snapshot built ${new Date(health.snapshot_built_at).toLocaleString()} ` +
    `(run ${health.run_id.slice(0, 8)}, last run ${health.last_run_status})${published}`;
  showStatus("");
  renderLists();
  showTab(currentTab);
}

function plot(id, traces, layout) {
  Plotly.react(id, traces, { ...LAYOUT, ...layout }, CONFIG);
}

function formatKpi(metric, value, note) {
  // A KPI the store has no data for says which (no cost data, no marketing spend), not a number.
  if (value === null || value === undefined) return note || "n/a";
  if (PERCENT_KPIS.has(metric)) return `${(value * 100).toFixed(1)}%`;
  return value.toLocaleString(undefined, { maximumFractionDigits: 2 });
}

function renderLists() {
  const cards = data.comprehensive.kpis.map((kpi) => {
    const change = kpi.change === null ? "" :
      `<span class="${kpi.change >= 0 ? "up" : "down"}">${kpi.change >= 0 ? "▲" : "▼"} ${(Math.abs(kpi.change) * 100).toFixed(1)}%</span>`;
    return `<div class="card"><div class="label">${escapeHtml(kpi.label)}</div>` +
      `<div class="value">${escapeHtml(formatKpi(kpi.metric, kpi.value, kpi.note))}</div>${change}</div>`;
  });
  document.getElementById("kpis").innerHTML = cards.join("");

  const insights = data.insights.insights;
  document.getElementById("insights").innerHTML = insights.title.map((title, i) =>
    `<li class="severity-${escapeHtml(insights.severity[i])}"><strong>${escapeHtml(title)}</strong> — ` +
    `${escapeHtml(insights.detail[i])}<br><em>${escapeHtml(insights.recommendation[i])}</em></li>`).join("");

  renderAlerts();

  const model = data.predictive.model || {};
  document.getElementById("model").innerHTML = Object.entries(model).map(([name, value]) =>
    `<tr><th>${escapeHtml(name)}</th><td>${escapeHtml(value)}</td></tr>`).join("");
  const trend = data.forecast.trend || {};
  document.getElementById("trend").textContent = trend.direction ?
    `Trend: ${trend.direction}, ${(trend.annualised_growth_rate * 100).toFixed(1)}% a year (model ${trend.model_version})` : "";
  renderExports();
}

// Open alerts and resolved ones in two lists, each latest first (the API's order).
function renderAlerts() {
  const feed = data.alerts.feed;
  const item = (i) =>
    `<li class="severity-${escapeHtml(feed.severity[i])} ${escapeHtml(feed.status[i])}">` +
    `<strong>${escapeHtml(feed.severity[i])}</strong> · ${escapeHtml(feed.rule[i])} · ${escapeHtml(feed.subject[i])}` +
    ` · fired ${new Date(feed.fired_at[i]).toLocaleString()}` +
    (feed.resolved_at[i] ? ` · resolved ${new Date(feed.resolved_at[i]).toLocaleString()}` : "") +
    `<br>${escapeHtml(feed.message[i])}</li>`;
  const indexes = (feed.alert_key || []).map((key, i) => i);
  for (const status of ["open", "resolved"]) {
    const items = indexes.filter((i) => feed.status[i] === status).map(item);
    document.getElementById(`alerts-${status}`).innerHTML = items.join("") || `<li>No ${status} alerts.</li>`;
    document.getElementById(`${status}-alerts`).textContent = `(${items.length})`;
  }
}

// One row per published table, with a download button per format.
function renderExports() {
  document.getElementById("exports").innerHTML = Object.entries(data.health.tables).map(([table, rows]) =>
    `<tr><td>${escapeHtml(table)}</td><td>${rows.toLocaleString()} rows</td><td>` +
    ["csv", "parquet", "json"].map((format) =>
      `<button data-table="${escapeHtml(table)}" data-format="${format}">${format}</button>`).join(" ") +
    "</td></tr>").join("");
}

async function download(table, format) {
  const response = await fetch(`${API}/export?table=${encodeURIComponent(table)}&format=${format}`,
    { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) {
    showStatus(`export of ${table} as ${format} failed: HTTP ${response.status}`);
    return;
  }
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = `${table}.${format}`;
  link.click();
  URL.revokeObjectURL(link.href);
}

const RENDERERS = {
  overview() {
    const revenue = data.comprehensive.revenue_daily;
    plot("chart-revenue-daily", [
      { x: revenue.date, y: revenue.net_revenue, name: "net revenue", type: "scatter", mode: "lines" },
    ], { title: { text: "Daily net revenue" } });
  },
  forecast() {
    const history = data.forecast.history;
    const future = data.forecast.forecast;
    plot("chart-forecast", [
      { x: history.date, y: history.upper, line: { width: 0 }, showlegend: false, hoverinfo: "skip" },
      { x: history.date, y: history.lower, fill: "tonexty", fillcolor: "rgba(38,128,194,0.15)", line: { width: 0 },
        name: "fit band" },
      { x: history.date, y: history.actual, name: "actual", mode: "lines", line: { color: "#1f2933" } },
      { x: history.date, y: history.fitted, name: "fit", mode: "lines", line: { color: "#2680c2" } },
      { x: future.date, y: future.upper, line: { width: 0 }, showlegend: false, hoverinfo: "skip" },
      { x: future.date, y: future.lower, fill: "tonexty", fillcolor: "rgba(222,145,29,0.25)", line: { width: 0 },
        name: "forecast band" },
      { x: future.date, y: future.forecast, name: "forecast", mode: "lines", line: { color: "#de911d" } },
    ], { title: { text: "Revenue: actuals, fit and forecast with prediction interval" } });
    seasonalChart("chart-seasonal-weekday", "Day-of-week effect on daily revenue", "day_of_week");
  },
  customers() {
    const segments = data.customers.segments;
    plot("chart-segments", [{ type: "pie", hole: 0.5, labels: segments.segment, values: segments.customers }],
      { title: { text: "Customers by RFM segment" } });
    const risk = data.customers.churn_risk;
    plot("chart-churn-risk", [{ type: "bar", x: risk.churn_risk, y: risk.customers }],
      { title: { text: "Rule-based churn risk" } });
    const cohorts = data.customers.cohorts;
    plot("chart-cohorts", [{ type: "heatmap", x: cohorts.months_since_first_order, y: cohorts.cohort_month,
      z: cohorts.retention_rate, colorscale: "Blues" }],
      { title: { text: "Cohort retention" }, xaxis: { title: { text: "months since first order" } } });
  },
  funnel() {
    const stages = data.funnel.stages;
    plot("chart-funnel", [{ type: "funnel", y: stages.stage, x: stages.entered }],
      { title: { text: "Sessions entering each stage" } });
    const hourly = data.funnel.hourly;
    plot("chart-hourly", [
      { type: "bar", x: hourly.hour_of_day, y: hourly.initiated, name: "initiated" },
      { type: "bar", x: hourly.hour_of_day, y: hourly.completed, name: "completed" },
      { type: "scatter", mode: "lines", x: hourly.hour_of_day, y: hourly.conversion_rate, name: "conversion rate",
        yaxis: "y2" },
    ], { title: { text: "Payments by hour of day" }, yaxis2: { overlaying: "y", side: "right", tickformat: ".0%" } });
  },
  roi() {
    const monthly = data.roi.monthly;
    plot("chart-roi", [
      { type: "bar", x: monthly.roi_month, y: monthly.net_profit, name: "net profit" },
      { type: "scatter", mode: "lines", x: monthly.roi_month, y: monthly.cumulative_net_profit, name: "cumulative profit" },
      { type: "scatter", mode: "lines", x: monthly.roi_month, y: monthly.roi, name: "ROI", yaxis: "y2" },
    ], { title: { text: "Profit and ROI by month" }, yaxis2: { overlaying: "y", side: "right", tickformat: ".0%" } });
    const costs = data.roi.costs;
    const whole = costs.period.map((period, i) => i).filter((i) => costs.period[i] === costs.period[0]);
    plot("chart-costs", [{ type: "bar", x: whole.map((i) => costs.category[i]), y: whole.map((i) => costs.amount[i]) }],
      { title: { text: `Costs by category (${costs.period[0]})` } });
  },
  predictive() {
    seasonalChart("chart-seasonal", "Seasonal patterns (effect on daily revenue, with interval)");
    const churn = data.predictive.churn_distribution;
    plot("chart-churn-distribution", [{ type: "bar", x: churn.churn_probability_from, y: churn.customers }],
      { title: { text: "Customers by model churn probability" }, xaxis: { tickformat: ".0%" } });
  },
  alerts() {},
};

// Seasonal effects with their interval, one trace per pattern (day of week, and month once a
// year of history lets the model fit it); `only` limits the chart to one pattern.
function seasonalChart(id, title, only) {
  const patterns = data.predictive.seasonal_patterns;
  const names = [...new Set(patterns.pattern)].filter((name) => !only || name === only);
  plot(id, names.map((name) => {
    const rows = patterns.pattern.map((p, i) => i).filter((i) => patterns.pattern[i] === name);
    return {
      type: "bar", name: name.replaceAll("_", " "), x: rows.map((i) => patterns.period[i]),
      y: rows.map((i) => patterns.effect[i]),
      error_y: { type: "data", symmetric: false, array: rows.map((i) => patterns.upper[i] - patterns.effect[i]),
        arrayminus: rows.map((i) => patterns.effect[i] - patterns.lower[i]) },
    };
  }), { title: { text: title } });
}

function showTab(name) {
  currentTab = name;
  for (const button of document.querySelectorAll("#tabs button")) {
    button.classList.toggle("active", button.dataset.tab === name);
  }
  for (const section of document.querySelectorAll(".tab")) {
    section.hidden = section.id !== `tab-${name}`;
  }
  if (Object.keys(data).length) RENDERERS[name]();
}

// Keeps polling through errors (the API restarting, no snapshot yet): the page shows the error
// and recovers by itself on the next poll that succeeds.
async function pollForNewSnapshot() {
  try {
    const health = await getJson("health-check");
    if (health.snapshot_published_at !== data.health.snapshot_published_at) await loadAll();
    showStatus("");
  } catch (error) {
    showStatus(`could not refresh: ${error.message}`);
  }
  setTimeout(pollForNewSnapshot, data.health.dashboard_refresh_seconds * 1000);
}

async function start() {
  try {
    await loadAll();
    document.getElementById("token-form").hidden = true;
    localStorage.setItem("analyticsToken", token);
    setTimeout(pollForNewSnapshot, data.health.dashboard_refresh_seconds * 1000);
  } catch (error) {
    if (error.message !== "unauthorized") {
      // No snapshot published yet (503) or the API unreachable: say so and try again.
      showStatus(`${error.message}; retrying in ${START_RETRY_SECONDS} s`);
      setTimeout(start, START_RETRY_SECONDS * 1000);
      return;
    }
    document.getElementById("token-form").hidden = false;
    document.getElementById("token-error").textContent = token ? "That token was not accepted." : "";
  }
}

document.getElementById("tabs").addEventListener("click", (event) => {
  if (event.target.dataset.tab) showTab(event.target.dataset.tab);
});
document.getElementById("exports").addEventListener("click", (event) => {
  if (event.target.dataset.table) download(event.target.dataset.table, event.target.dataset.format);
});
document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  token = document.getElementById("token").value;
  start();
});
start();

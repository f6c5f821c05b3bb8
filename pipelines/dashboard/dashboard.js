// The dashboard: fetches the API's chart-shaped answers and draws them with Plotly.js.
// The token comes from ?token= or the form (kept in localStorage); the page polls health-check
// and reloads its data when a new snapshot has been published.
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
};
const PERCENT_KPIS = new Set(["net_revenue_growth", "repeat_rate", "churn_rate", "payment_success_rate",
  "conversion_rate", "gross_margin", "net_margin", "roi"]);
const LAYOUT = { margin: { t: 40, r: 20, b: 40, l: 60 }, legend: { orientation: "h" } };
const CONFIG = { responsive: true, displaylogo: false };

let token = new URLSearchParams(location.search).get("token") || localStorage.getItem("analyticsToken");
let data = {};
let builtAt = null;
let currentTab = "overview";

async function getJson(path) {
  const response = await fetch(`${API}/${path}`, { headers: { Authorization: `Bearer ${token}` } });
  if (response.status === 401) throw new Error("unauthorized");
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

async function loadAll() {
  const entries = await Promise.all(
    Object.entries(ENDPOINTS).map(async ([name, path]) => [name, await getJson(path)]));
  data = Object.fromEntries(entries);
  builtAt = data.comprehensive.snapshot_built_at;
  document.getElementById("snapshot").textContent =
    `snapshot built ${new Date(builtAt).toLocaleString()} (run ${data.comprehensive.run_id.slice(0, 8)})`;
  renderLists();
  showTab(currentTab);
}

function plot(id, traces, layout) {
  Plotly.react(id, traces, { ...LAYOUT, ...layout }, CONFIG);
}

function formatKpi(metric, value) {
  if (value === null || value === undefined) return "n/a";
  if (PERCENT_KPIS.has(metric)) return `${(value * 100).toFixed(1)}%`;
  return value.toLocaleString(undefined, { maximumFractionDigits: 2 });
}

function renderLists() {
  const cards = data.comprehensive.kpis.map((kpi) => {
    const change = kpi.change === null ? "" :
      `<span class="${kpi.change >= 0 ? "up" : "down"}">${kpi.change >= 0 ? "▲" : "▼"} ${(Math.abs(kpi.change) * 100).toFixed(1)}%</span>`;
    return `<div class="card"><div class="label">${kpi.metric.replaceAll("_", " ")}</div>` +
      `<div class="value">${formatKpi(kpi.metric, kpi.value)}</div>${change}</div>`;
  });
  document.getElementById("kpis").innerHTML = cards.join("");

  const insights = data.insights.insights;
  document.getElementById("insights").innerHTML = insights.title.map((title, i) =>
    `<li class="severity-${insights.severity[i]}"><strong>${title}</strong> — ${insights.detail[i]}` +
    `<br><em>${insights.recommendation[i]}</em></li>`).join("");

  const feed = data.alerts.feed;
  document.getElementById("open-alerts").textContent = `(${data.alerts.open} open)`;
  document.getElementById("alerts").innerHTML = (feed.alert_key || []).map((key, i) =>
    `<li class="severity-${feed.severity[i]} ${feed.status[i]}"><strong>${feed.status[i]}</strong> ` +
    `${feed.severity[i]} · ${feed.rule[i]} · ${feed.subject[i]} · fired ${new Date(feed.fired_at[i]).toLocaleString()}` +
    `<br>${feed.message[i]}</li>`).join("") || "<li>No alerts.</li>";

  const model = data.predictive.model || {};
  document.getElementById("model").innerHTML = Object.entries(model).map(([name, value]) =>
    `<tr><th>${name}</th><td>${value}</td></tr>`).join("");
  const trend = data.forecast.trend || {};
  document.getElementById("trend").textContent = trend.direction ?
    `Trend: ${trend.direction}, ${(trend.annualised_growth_rate * 100).toFixed(1)}% a year (model ${trend.model_version})` : "";
  renderExports();
}

function renderExports() {
  getJson("health-check").then((health) => {
    document.getElementById("exports").innerHTML = Object.entries(health.tables).map(([table, rows]) =>
      `<tr><td>${table}</td><td>${rows.toLocaleString()} rows</td><td>` +
      ["csv", "parquet", "json"].map((format) =>
        `<button data-table="${table}" data-format="${format}">${format}</button>`).join(" ") + "</td></tr>").join("");
  });
}

async function download(table, format) {
  const response = await fetch(`${API}/export?table=${encodeURIComponent(table)}&format=${format}`,
    { headers: { Authorization: `Bearer ${token}` } });
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

async function pollForNewSnapshot() {
  const health = await getJson("health-check");
  if (health.snapshot_built_at !== builtAt) await loadAll();
  setTimeout(pollForNewSnapshot, health.dashboard_refresh_seconds * 1000);
}

async function start() {
  try {
    await loadAll();
    document.getElementById("token-form").hidden = true;
    localStorage.setItem("analyticsToken", token);
    const health = await getJson("health-check");
    setTimeout(pollForNewSnapshot, health.dashboard_refresh_seconds * 1000);
  } catch (error) {
    if (error.message !== "unauthorized") throw error;
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

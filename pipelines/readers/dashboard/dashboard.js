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
  products: "products",
  channels: "channels",
  predictive: "predictive",
  insights: "business-insights",
  alerts: "alerts",
  health: "health-check",
};
// Answers fetched while a new snapshot replaced the old one mix two snapshots: fetch again.
const CONSISTENT_LOAD_ATTEMPTS = 3;
const START_RETRY_SECONDS = 10;
const DAY_MS = 86400000;
const MOVING_AVERAGE_DAYS = 7;

// The figures of the date-range cards, each summed over the range's daily rows (RANGE_FIGURES).
const RANGE_KPIS = ["net_revenue", "orders", "average_order_value", "refunds", "new_customers"];
const FUNNEL_STAGES = {
  visit: "Visited the store",
  signup: "Signed up",
  upload: "Uploaded",
  checkout: "Reached checkout",
  payment_initiated: "Started payment",
  payment_completed: "Paid",
};
const MODEL_FIGURES = {
  model: { label: "Model" },
  version: { label: "Version" },
  trained_at: { label: "Trained", unit: "time" },
  spec: { label: "Specification" },
  trend: { label: "Trend" },
  window_days: { label: "Training window (days)", unit: "count" },
  data_start: { label: "Data from", unit: "date" },
  data_end: { label: "Data to", unit: "date" },
  horizon_days: { label: "Forecast horizon (days)", unit: "count" },
  backtest_origins: { label: "Backtest origins", unit: "count" },
  confidence_level: { label: "Interval level", unit: "percent" },
  r2: { label: "R²", unit: "number" },
  mae: { label: "Mean absolute error (a day)", unit: "money" },
  mape: { label: "Mean absolute percentage error", unit: "percent" },
  mase: { label: "MASE (below 1 beats seasonal naive)", unit: "number" },
  naive_mae: { label: "Seasonal naive's mean absolute error", unit: "money" },
  relative_mae: { label: "Error relative to seasonal naive", unit: "number" },
  out_of_sample_coverage: { label: "Days inside their band, out of sample", unit: "percent" },
  coverage_windows: { label: "Backtest windows judged (days)", unit: "count" },
  out_of_sample_total_coverage: { label: "Totals inside their band, out of sample", unit: "percent" },
  total_coverage_windows: { label: "Backtest windows judged (totals)", unit: "count" },
  n_obs: { label: "Days of history", unit: "count" },
  n_points: { label: "Backtest forecasts", unit: "count" },
};
const CHURN_RISK_ORDER = ["low", "medium", "high"];
// A cohort cell narrower than this (px) cannot show its percentage: a narrow screen shows fewer months.
const COHORT_CELL_MIN_PX = 34;
const COHORT_COLOURS = [[0, "#f0f4f8"], [1, "#0b4f8a"]];
const LAYOUT = { margin: { t: 48, r: 16, b: 16, l: 16 }, title: { font: { size: 16 } },
  legend: { orientation: "h", y: -0.25 } };
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
  // A preset ("last 30 days") moves with the days a new snapshot brings; a custom range stays.
  setRange(document.getElementById("range-preset").value);
  renderLists();
  showTab(currentTab);
}

// ---------------------------------------------------------------------------------------------
// Formatting: money in the reporting currency, percentages, counts, a few significant digits.

function money(value, fractionDigits = 2) {
  return value.toLocaleString(undefined, { style: "currency", currency: data.comprehensive.currency,
    minimumFractionDigits: fractionDigits, maximumFractionDigits: fractionDigits });
}

function formatValue(unit, value) {
  if (value === null || value === undefined) return "n/a";
  switch (unit) {
    case "money": return money(value);
    case "percent": return `${(value * 100).toFixed(1)} %`;
    case "count": return Math.round(value).toLocaleString();
    case "minutes": return `${value.toLocaleString(undefined, { maximumFractionDigits: 1 })} min`;
    case "ratio": return `${value.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 })}×`;
    case "number": return value.toLocaleString(undefined, { maximumSignificantDigits: 3 });
    case "date": return new Date(`${value}T00:00:00Z`).toLocaleDateString(undefined, { dateStyle: "medium", timeZone: "UTC" });
    case "time": return new Date(value).toLocaleString();
    default: return String(value);
  }
}

// A name from the API without a label of the page's own: "payment_method" → "Payment method".
function humanize(name) {
  const words = String(name).replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

// How a KPI is shown (label, unit, lower_is_better), from the API (pipelines/readers/kpi_display.py).
function kpiDisplay(metric) {
  return data.comprehensive.kpi_display[metric] || { label: humanize(metric), unit: "number", lower_is_better: false };
}

// Days as ISO text (YYYY-MM-DD, the API's dates), shifted and counted in UTC so that no time
// zone or daylight-saving change moves a day.
function addDays(isoDate, days) {
  return new Date(Date.parse(`${isoDate}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

function daysBetween(fromDate, toDate) {
  return Math.round((Date.parse(`${toDate}T00:00:00Z`) - Date.parse(`${fromDate}T00:00:00Z`)) / DAY_MS) + 1;
}

function formatDay(isoDate) {
  return formatValue("date", isoDate);
}

// An axis with its title. An explicit standoff makes automargin make room for the title beside
// the tick labels (without one, Plotly keeps the title inside the margin, over long labels).
function axisTitle(text, extra = {}) {
  return { title: { text, standoff: 8 }, automargin: true, ...extra };
}

function currencyAxis(text) {
  return axisTitle(`${text} (${data.comprehensive.currency})`);
}

// ---------------------------------------------------------------------------------------------
// KPI cards: value, change against the period before (green when the change is good news),
// the prior value; a KPI the store has no data for says which (no cost data), not a number.

function changeClass(metric, change) {
  if (change === null || change === 0) return "flat";
  const rising = change > 0;
  return rising !== kpiDisplay(metric).lower_is_better ? "good" : "bad";
}

// A KPI card's label is the API's (for LTV/CAC it names the cohort and horizon); a range card's, the KPI's.
function card({ metric, value, prior, change, note, label }) {
  const unit = kpiDisplay(metric).unit;
  const shownLabel = label || kpiDisplay(metric).label;
  const shown = value === null || value === undefined ? note || "n/a" : formatValue(unit, value);
  const arrow = change > 0 ? "▲" : change < 0 ? "▼" : "";
  const changeText = change === null || change === undefined ? "no comparison" :
    `${arrow} ${(Math.abs(change) * 100).toFixed(1)} %`;
  return `<div class="card" data-metric="${escapeHtml(metric)}">` +
    `<div class="label">${escapeHtml(shownLabel)}</div>` +
    `<div class="value">${escapeHtml(shown)}</div>` +
    `<div class="change ${changeClass(metric, change ?? null)}">${escapeHtml(changeText)}` +
    (prior === null || prior === undefined ? "" :
      `<span class="prior"> vs ${escapeHtml(formatValue(unit, prior))}</span>`) + "</div></div>";
}

function relativeChange(value, prior) {
  return value !== null && prior ? (value - prior) / Math.abs(prior) : null;
}

// The range cards' figures over the daily rows of [fromDate, toDate]; null when the daily table
// does not cover every day of it (a period before the store's first day has no figures).
function rangeFigures(daily, fromDate, toDate) {
  if (!daily.date.length || fromDate < daily.date[0] || toDate > daily.date.at(-1)) return null;
  const sum = (column) => daily.date.reduce(
    (total, date, i) => (date >= fromDate && date <= toDate ? total + daily[column][i] : total), 0);
  const orders = sum("orders");
  return {
    net_revenue: sum("net_revenue"),
    orders,
    // As marts.revenue_daily and kpi_summary define it: gross revenue per paid order.
    average_order_value: orders ? sum("gross_revenue") / orders : null,
    refunds: sum("refunds"),
    new_customers: sum("new_customers"),
  };
}

function selectedRange() {
  return { from: document.getElementById("range-from").value, to: document.getElementById("range-to").value };
}

// The previous period: as many days as the range, ending the day before it starts.
function previousPeriod({ from, to }) {
  const days = daysBetween(from, to);
  return { from: addDays(from, -days), to: addDays(from, -1) };
}

function setRange(preset) {
  const daily = data.comprehensive.revenue_daily;
  if (!daily.date.length) return;
  const [first, last] = [daily.date[0], daily.date.at(-1)];
  for (const id of ["range-from", "range-to"]) Object.assign(document.getElementById(id), { min: first, max: last });
  if (preset === "custom") return;
  const from = preset === "all" ? first : addDays(last, 1 - Number(preset));
  document.getElementById("range-from").value = from < first ? first : from;
  document.getElementById("range-to").value = last;
}

function renderRangeCards() {
  const range = selectedRange();
  const compare = document.getElementById("compare").checked;
  const daily = data.comprehensive.revenue_daily;
  const current = range.from && range.to && range.from <= range.to ? rangeFigures(daily, range.from, range.to) : null;
  const heading = document.getElementById("range-period");
  if (!current) {
    heading.textContent = `Choose days between ${formatDay(daily.date[0])} and ${formatDay(daily.date.at(-1))}.`;
    document.getElementById("range-kpis").innerHTML = "";
    return;
  }
  const previous = previousPeriod(range);
  const prior = compare ? rangeFigures(daily, previous.from, previous.to) : null;
  heading.textContent = `${formatDay(range.from)} – ${formatDay(range.to)} (${daysBetween(range.from, range.to)} days)` +
    (compare ? `, compared with ${formatDay(previous.from)} – ${formatDay(previous.to)}` +
      (prior ? "" : " (before the first day of data)") : "");
  document.getElementById("range-kpis").innerHTML = RANGE_KPIS.map((metric) => {
    const priorValue = prior ? prior[metric] : null;
    return card({ metric, value: current[metric], prior: priorValue,
      change: relativeChange(current[metric], priorValue), note: null });
  }).join("");
}

function renderLists() {
  const period = data.comprehensive.kpi_period;
  document.getElementById("kpi-period").textContent = period ?
    `Last ${period.window_days} days, ${formatDay(period.start_date)} – ${formatDay(period.end_date)}, ` +
    `compared with the ${period.window_days} days before; amounts in ${data.comprehensive.currency}` : "";
  document.getElementById("kpis").innerHTML = data.comprehensive.kpis.map(card).join("");

  const insights = data.insights.insights;
  document.getElementById("insights").innerHTML = insights.title.map((title, i) =>
    `<li class="severity-${escapeHtml(insights.severity[i])}"><strong>${escapeHtml(title)}</strong> — ` +
    `${escapeHtml(insights.detail[i])}<br><em>${escapeHtml(insights.recommendation[i])}</em></li>`).join("");

  renderAlerts();
  renderModel();
  renderTopClv();
  const trend = data.forecast.trend || {};
  document.getElementById("trend").textContent = trend.direction ?
    `Trend: ${trend.direction}, ${(trend.annualised_growth_rate * 100).toFixed(1)} % a year (model ${trend.model_version})` : "";
  renderExports();
}

function renderModel() {
  const model = data.predictive.model || {};
  document.getElementById("model").innerHTML = Object.entries(model).map(([name, value]) => {
    const figure = MODEL_FIGURES[name] || { label: humanize(name) };
    return `<tr><th>${escapeHtml(figure.label)}</th><td>${escapeHtml(formatValue(figure.unit, value))}</td></tr>`;
  }).join("");
}

function renderTopClv() {
  const top = data.predictive.top_clv;
  const horizon = (data.predictive.customer_scores || {}).clv_horizon_days;
  document.getElementById("top-clv-title").textContent =
    `Top customers by predicted value${horizon ? ` over the next ${horizon} days` : ""}`;
  document.getElementById("top-clv").innerHTML =
    "<tr><th>Customer</th><th>Predicted value</th><th>Chance they have churned</th></tr>" +
    top.customer_id.map((customer, i) =>
      `<tr><td>${escapeHtml(customer)}</td><td class="number">${escapeHtml(formatValue("money", top.predicted_clv[i]))}</td>` +
      `<td class="number">${escapeHtml(formatValue("percent", top.churn_probability[i]))}</td></tr>`).join("");
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

// ---------------------------------------------------------------------------------------------
// Charts.

function plot(id, traces, layout) {
  const chart = document.getElementById(id);
  chart.classList.remove("no-data");
  Plotly.react(chart, traces, { ...LAYOUT, ...layout, title: { ...LAYOUT.title, ...layout.title } }, CONFIG);
}

// A chart the store has no data for shows why (like a KPI without a value), not an empty chart.
function noData(id, message) {
  const chart = document.getElementById(id);
  Plotly.purge(chart);
  chart.classList.add("no-data");
  chart.textContent = message;
}

// The mean of each day and the MOVING_AVERAGE_DAYS - 1 before it (null until there are that many).
function movingAverage(values) {
  return values.map((value, i) => {
    if (i < MOVING_AVERAGE_DAYS - 1) return null;
    const window = values.slice(i - MOVING_AVERAGE_DAYS + 1, i + 1);
    return window.reduce((total, v) => total + v, 0) / MOVING_AVERAGE_DAYS;
  });
}

// Ranges for two y axes drawn over each other whose zeros fall on one line: each axis spans its
// values and zero, then the one whose zero sits lower is extended downwards (or, when that would
// put a zero at the very top, the other upwards) until both zeros are at the same height.
function zeroAlignedRanges(first, second) {
  const spans = [first, second].map((values) => {
    const finite = values.filter((v) => v !== null && Number.isFinite(v));
    const low = Math.min(0, ...finite);
    const high = Math.max(0, ...finite);
    return high > low ? [low, high] : [low, low + 1];
  });
  const zeroAt = ([low, high]) => -low / (high - low);
  const shares = spans.map(zeroAt);
  // The higher zero, unless it is at the very top (an axis of no positive value): then the lower
  // one, unless that is at the very bottom too: then the middle.
  const highest = Math.max(...shares);
  const lowest = Math.min(...shares);
  const target = highest < 1 ? highest : lowest > 0 ? lowest : 0.5;
  return spans.map(([low, high]) => {
    const padded = (range) => { const pad = (range[1] - range[0]) * 0.05; return [range[0] - pad, range[1] + pad]; };
    if (zeroAt([low, high]) < target) return padded([-target * high / (1 - target), high]);
    if (zeroAt([low, high]) > target) return padded([low, low - low / target]);
    return padded([low, high]);
  });
}

const RENDERERS = {
  overview() {
    renderRangeCards();
    const revenue = data.comprehensive.revenue_daily;
    const range = selectedRange();
    const inRange = revenue.date.map((date, i) => i).filter((i) => revenue.date[i] >= range.from && revenue.date[i] <= range.to);
    const average = movingAverage(revenue.net_revenue);
    const traces = [
      { type: "bar", x: inRange.map((i) => revenue.date[i]), y: inRange.map((i) => revenue.net_revenue[i]),
        name: "net revenue", marker: { color: "rgba(38,128,194,0.35)" } },
      { type: "scatter", mode: "lines", x: inRange.map((i) => revenue.date[i]), y: inRange.map((i) => average[i]),
        name: `${MOVING_AVERAGE_DAYS}-day average`, line: { color: "#0b4f8a", width: 2.5 } },
    ];
    if (document.getElementById("compare").checked && inRange.length) {
      // The previous period's 7-day average, drawn on the days it is compared with.
      const shift = daysBetween(range.from, range.to);
      const byDate = new Map(revenue.date.map((date, i) => [date, average[i]]));
      traces.push({ type: "scatter", mode: "lines", x: inRange.map((i) => revenue.date[i]),
        y: inRange.map((i) => byDate.get(addDays(revenue.date[i], -shift)) ?? null),
        name: `previous period, ${MOVING_AVERAGE_DAYS}-day average`, line: { color: "#9aa5b1", dash: "dash" } });
    }
    plot("chart-revenue-daily", traces, { title: { text: "Daily net revenue" }, xaxis: axisTitle("day"),
      yaxis: currencyAxis("net revenue") });
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
    ], { title: { text: "Revenue and its forecast" }, xaxis: axisTitle("day"),
      yaxis: currencyAxis("net revenue a day") });
    seasonalChart("chart-seasonal-weekday", "Day-of-week effect on daily revenue", "day_of_week");
  },
  customers() {
    const segments = data.customers.segments;
    plot("chart-segments", [{ type: "bar", orientation: "h", y: segments.segment, x: segments.customers }],
      { title: { text: "Customers by RFM segment" }, xaxis: axisTitle("customers"),
        yaxis: axisTitle("segment", { autorange: "reversed" }) });
    const risk = data.customers.churn_risk;
    const levels = risk.churn_risk.map((level, i) => i).sort(
      (a, b) => CHURN_RISK_ORDER.indexOf(risk.churn_risk[a]) - CHURN_RISK_ORDER.indexOf(risk.churn_risk[b]));
    plot("chart-churn-risk", [{ type: "bar", x: levels.map((i) => humanize(risk.churn_risk[i])),
      y: levels.map((i) => risk.customers[i]) }],
      { title: { text: "Rule-based churn risk" }, xaxis: axisTitle("churn risk"), yaxis: axisTitle("customers") });
    cohortChart();
  },
  funnel() {
    const stages = data.funnel.stages;
    const steps = stages.stage.map((stage, i) => `${stages.entered[i].toLocaleString()}` +
      (i ? ` · ${formatValue("percent", stages.entered[i - 1] ? stages.entered[i] / stages.entered[i - 1] : null)}` : ""));
    // Bars from the left with the count and the step-to-step rate beside each; the x range leaves
    // them room.
    plot("chart-funnel", [{ type: "bar", orientation: "h", y: stages.stage.map((stage) => FUNNEL_STAGES[stage] || humanize(stage)),
      x: stages.entered, text: steps, textposition: "outside", cliponaxis: false,
      hovertemplate: "%{y}: %{x:,} sessions<extra></extra>" }],
    { title: { text: "Sessions at each step" }, xaxis: axisTitle("sessions (% of the step before)",
      { range: [0, Math.max(...stages.entered) * 1.45] }), yaxis: axisTitle("step", { autorange: "reversed" }) });
    const hourly = data.funnel.hourly;
    plot("chart-hourly", [
      { type: "bar", x: hourly.hour_of_day, y: hourly.initiated, name: "started" },
      { type: "bar", x: hourly.hour_of_day, y: hourly.completed, name: "completed" },
      { type: "scatter", mode: "lines", x: hourly.hour_of_day, y: hourly.conversion_rate, name: "success rate",
        yaxis: "y2" },
    ], { title: { text: "Payments by hour of day" }, xaxis: axisTitle("hour of day"), yaxis: axisTitle("payments"),
      yaxis2: axisTitle("success rate", { overlaying: "y", side: "right", tickformat: ".0%", range: [0, 1.05],
        showgrid: false }) });
  },
  roi() {
    const monthly = data.roi.monthly;
    const [profitRange, roiRange] = zeroAlignedRanges(
      [...monthly.net_profit, ...monthly.cumulative_net_profit], monthly.roi);
    plot("chart-roi", [
      { type: "bar", x: monthly.roi_month, y: monthly.net_profit, name: "net profit" },
      { type: "scatter", mode: "lines", x: monthly.roi_month, y: monthly.cumulative_net_profit, name: "cumulative profit" },
      { type: "scatter", mode: "lines", x: monthly.roi_month, y: monthly.roi, name: "ROI", yaxis: "y2" },
    ], { title: { text: "Profit and ROI by month" }, xaxis: axisTitle("month"),
      yaxis: { ...currencyAxis("profit"), range: profitRange },
      yaxis2: axisTitle("ROI", { overlaying: "y", side: "right", tickformat: ".0%", range: roiRange, showgrid: false }) });
    costsChart();
  },
  products() {
    const top = data.products.top;
    const growth = top.net_revenue_growth.map((change) => (change === null ? "new" :
      `${change > 0 ? "▲" : change < 0 ? "▼" : ""} ${formatValue("percent", Math.abs(change))}`));
    const period = data.comprehensive.kpi_period;
    plot("chart-top-products", [{ type: "bar", orientation: "h", y: top.product.map(humanize), x: top.net_revenue,
      text: growth, textposition: "outside", cliponaxis: false,
      hovertemplate: "%{y}: %{x:,.2f} (%{text} on the period before)<extra></extra>" }],
    { title: { text: "Best-selling products" },
      xaxis: axisTitle(`net revenue, last ${period ? period.window_days : ""} days (${data.comprehensive.currency})`,
        { range: [0, Math.max(0, ...top.net_revenue) * 1.3] }),
      yaxis: axisTitle("product", { autorange: "reversed", type: "category" }) });
    const monthly = data.products.monthly;
    plot("chart-product-months", byGroup(monthly, "product", "order_month", "net_revenue").map((trace) =>
      ({ ...trace, type: "bar" })),
    { title: { text: "Net revenue by product" }, barmode: "stack", xaxis: axisTitle("month"),
      yaxis: currencyAxis("net revenue") });
    const products = data.products.all_time;
    document.getElementById("product-table").innerHTML =
      "<tr><th>Product</th><th>Orders</th><th>Net revenue</th><th>Share</th><th>Refund rate</th></tr>" +
      products.product.map((product, i) => `<tr><td>${escapeHtml(humanize(product))}</td>` +
        [["count", products.orders[i]], ["money", products.net_revenue[i]], ["percent", products.revenue_share[i]],
          ["percent", products.refund_rate[i]]].map(([unit, value]) =>
          `<td class="number">${escapeHtml(formatValue(unit, value))}</td>`).join("") + "</tr>").join("");
  },
  channels() {
    const monthly = data.channels.monthly;
    plot("chart-channel-customers", byGroup(monthly, "channel", "acquisition_month", "new_customers").map((trace) =>
      ({ ...trace, type: "bar" })),
    { title: { text: "New customers by channel" }, barmode: "stack", xaxis: axisTitle("month of first order"),
      yaxis: axisTitle("new customers") });
    plot("chart-channel-cac", byGroup(monthly, "channel", "acquisition_month", "cac").map((trace) =>
      ({ ...trace, type: "scatter", mode: "lines+markers" })),
    { title: { text: "Customer acquisition cost by channel" }, xaxis: axisTitle("month of first order"),
      yaxis: currencyAxis("cost per new customer") });
    renderChannelTable(monthly);
  },
  predictive() {
    seasonalChart("chart-seasonal", "Seasonal patterns");
    const churn = data.predictive.churn_distribution;
    plot("chart-churn-distribution", [{ type: "bar", x: churn.churn_probability_from.map((p) => p + 0.05), y: churn.customers,
      width: 0.09 }],
      { title: { text: "Chance customers have churned" },
        xaxis: axisTitle("chance the customer has churned", { tickformat: ".0%", range: [0, 1] }),
        yaxis: axisTitle("customers") });
  },
  alerts() {},
};

// One trace per value of `group` (a product, a channel) over `x`, from a table of columns.
function byGroup(table, group, x, y) {
  return [...new Set(table[group])].map((name) => {
    const rows = table[group].map((g, i) => i).filter((i) => table[group][i] === name);
    return { name: humanize(name), x: rows.map((i) => table[x][i]), y: rows.map((i) => table[y][i]) };
  });
}

// Each channel's latest month with new customers (what it costs now, what the spend brought at once), and its
// latest month old enough for a 90-day LTV (what a customer brings, and when they pay back).
function renderChannelTable(monthly) {
  const channels = [...new Set(monthly.channel)];
  const latest = (channel, has) => monthly.channel.map((c, i) => i)
    .filter((i) => monthly.channel[i] === channel && has(i)).at(-1);
  const month = (i) => (i === undefined ? "" : new Date(`${monthly.acquisition_month[i]}T00:00:00Z`)
    .toLocaleDateString(undefined, { month: "short", year: "numeric", timeZone: "UTC" }));
  const cell = (unit, i, column) => `<td class="number">${escapeHtml(
    i === undefined ? "n/a" : formatValue(unit, monthly[column][i]))}</td>`;
  document.getElementById("channel-table").innerHTML =
    "<tr><th>Channel</th><th>Latest month</th><th>New customers</th><th>Marketing spend</th><th>CAC</th>" +
    "<th>Return on ad spend</th><th>Cohort of</th><th>90-day value per customer</th><th>LTV / CAC</th>" +
    "<th>Months to pay back</th></tr>" +
    channels.map((channel) => {
      const now = latest(channel, (i) => monthly.new_customers[i] > 0);
      const cohort = latest(channel, (i) => monthly.ltv_contribution_90d[i] !== null);
      return `<tr><td>${escapeHtml(humanize(channel))}</td><td>${escapeHtml(month(now))}</td>` +
        cell("count", now, "new_customers") + cell("money", now, "marketing_spend") + cell("money", now, "cac") +
        cell("ratio", now, "roas") + `<td>${escapeHtml(month(cohort))}</td>` +
        cell("money", cohort, "ltv_contribution_90d") + cell("ratio", cohort, "ltv_to_cac_90d") +
        cell("count", cohort, "payback_months") + "</tr>";
    }).join("");
}

// Each cost category's share of all costs, all time and in the last days; no chart when the
// store has loaded no costs (every share is null then).
function costsChart() {
  const costs = data.roi.costs;
  const periods = [...new Set(costs.period)];
  if (!costs.share.some((share) => share !== null)) {
    noData("chart-costs", "Costs by category: no cost data (the store has loaded no operating costs).");
    return;
  }
  plot("chart-costs", periods.map((period) => {
    const rows = costs.period.map((p, i) => i).filter((i) => costs.period[i] === period);
    return { type: "bar", orientation: "h", name: humanize(period), y: rows.map((i) => humanize(costs.category[i])),
      x: rows.map((i) => costs.share[i]), customdata: rows.map((i) => money(costs.amount[i], 0)),
      hovertemplate: "%{y}: %{x:.1%} (%{customdata})<extra>%{fullData.name}</extra>" };
  }), { title: { text: "Share of costs by category" }, barmode: "group",
    xaxis: axisTitle("share of costs", { tickformat: ".0%" }), yaxis: axisTitle("category", { autorange: "reversed" }) });
}

// Retention of each month's new customers, month by month, as percentages in the cells; the
// scale runs from 0 % (palest) to 100 % (strongest). As many months as fit legibly.
function cohortChart() {
  const cohorts = data.customers.cohorts;
  const plotWidth = document.getElementById("chart-cohorts").clientWidth - 160;
  const months = Math.max(1, Math.floor(plotWidth / COHORT_CELL_MIN_PX));
  const shown = cohorts.months_since_first_order.map((m, i) => i).filter((i) => cohorts.months_since_first_order[i] < months);
  const allMonths = Math.max(...cohorts.months_since_first_order) + 1;
  const cohortLabel = (month) => new Date(`${month}T00:00:00Z`).toLocaleDateString(undefined,
    { month: "short", year: "numeric", timeZone: "UTC" });
  plot("chart-cohorts", [{ type: "heatmap", x: shown.map((i) => cohorts.months_since_first_order[i]),
    y: shown.map((i) => cohortLabel(cohorts.cohort_month[i])), z: shown.map((i) => cohorts.retention_rate[i]),
    zmin: 0, zmax: 1, colorscale: COHORT_COLOURS, texttemplate: "%{z:.0%}", textfont: { size: 10 },
    hovertemplate: "%{y}, month %{x}: %{z:.1%}<extra></extra>", colorbar: { tickformat: ".0%", thickness: 12 } }],
  { title: { text: "Customers still buying" },
    xaxis: axisTitle(`months since first order${months < allMonths ? ` (the first ${months})` : ""}`, { dtick: 1 }),
    yaxis: axisTitle("first order in", { type: "category", autorange: "reversed" }) });
}

// Seasonal effects with their interval, one trace per pattern (day of week, and month once a
// year of history lets the model fit it); `only` limits the chart to one pattern.
function seasonalChart(id, title, only) {
  const patterns = data.predictive.seasonal_patterns;
  const names = [...new Set(patterns.pattern)].filter((name) => !only || name === only);
  const unit = patterns.unit && patterns.unit[0] === "currency" ? data.comprehensive.currency : "log of revenue";
  plot(id, names.map((name) => {
    const rows = patterns.pattern.map((p, i) => i).filter((i) => patterns.pattern[i] === name);
    return {
      type: "bar", name: humanize(name), x: rows.map((i) => patterns.period[i]),
      y: rows.map((i) => patterns.effect[i]),
      error_y: { type: "data", symmetric: false, array: rows.map((i) => patterns.upper[i] - patterns.effect[i]),
        arrayminus: rows.map((i) => patterns.effect[i] - patterns.lower[i]) },
    };
  }), { title: { text: title }, xaxis: axisTitle(only ? humanize(only) : "period"),
    yaxis: axisTitle(`effect on daily revenue (${unit})`) });
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
// "input": a date picked, a preset chosen or the box ticked (each fires it as it changes).
document.getElementById("range").addEventListener("input", (event) => {
  if (!Object.keys(data).length) return;
  if (event.target.id === "range-preset") setRange(event.target.value);
  else if (event.target.type === "date") document.getElementById("range-preset").value = "custom";
  RENDERERS.overview();
});
document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  token = document.getElementById("token").value;
  start();
});
start();

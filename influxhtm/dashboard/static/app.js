// influxhtm live view: lists the HTM result series of one database and charts each, appending new points
// as they are written. Data come from the server's JSON endpoints; whether a point is an alert is decided
// by the server (influxhtm.dashboard.alerts), never here.
"use strict";

(() => {
  const COLORS = {
    value: "#1f77b4",
    prediction: "#ff7f0e",
    score: "#6a3d9a",
    alert: "#c62828",
    learning: "rgba(221, 160, 30, 0.20)",
  };
  const SERIES_EVERY = 4; // refresh the models list every this many polls
  const MAX_ALERT_ROWS = 100;

  const view = { config: null, cards: new Map(), polls: 0, lastUpdate: null };
  window.influxhtmView = view; // for tests and curious operators

  const $ = (selector, root = document) => root.querySelector(selector);

  function fmtTime(ms) {
    return ms == null ? "—" : new Date(ms).toISOString().replace("T", " ").slice(0, 19);
  }

  function fmtNum(x, digits = 3) {
    if (x == null) return "—";
    return Math.abs(x) >= 1e5 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(2) : x.toFixed(digits);
  }

  async function getJSON(path) {
    const response = await fetch(path, { cache: "no-store" });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }

  function setStatus(ok, text, detail = "") {
    const status = $("#status");
    status.dataset.state = ok ? "ok" : "error";
    $("#status-text").textContent = text;
    const banner = $("#banner");
    banner.textContent = detail;
    banner.hidden = !detail;
  }

  function stateOf(learning) {
    if (learning === true) return { text: "LEARNING", cls: "state-learning" };
    if (learning === false) return { text: "LIVE", cls: "state-live" };
    return { text: "STATE UNKNOWN", cls: "state-unknown" };
  }

  class Card {
    constructor(info) {
      this.id = info.id;
      this.info = info;
      this.cursor = null; // last_ns of the newest point shown (a string: nanoseconds)
      this.t = [];
      this.value = [];
      this.score = [];
      this.learning = [];
      this.predX = []; // a prediction is made at one point for the next: drawn at the next point's time
      this.predY = [];
      this.pending = null;
      this.alerts = []; // {t, score, value}
      this.spans = []; // learning periods [start ms, end ms]
      this.inSpan = false;
      this.records = null;
      this.revision = 0;
      this.busy = false;

      this.el = $("#card-template").content.firstElementChild.cloneNode(true);
      this.el.dataset.seriesId = info.id;
      this.el.dataset.seriesTitle = info.title;
      this.el.id = "card-" + info.id;
      $(".card-title", this.el).textContent = this.title();
      $(".card-sub", this.el).textContent = `HTM results in measurement ${info.measurement}`;
      this.chart = $(".chart", this.el);
      $("#cards").appendChild(this.el);
    }

    title() {
      const info = this.info;
      const tags = Object.entries(info.tags).map(([k, v]) => `${k}=${v}`);
      return [info.source_measurement, ...tags, ...(info.source_field ? [`field ${info.source_field}`] : [])].join(" · ");
    }

    append(points) {
      const n = points.time_ms.length;
      for (let i = 0; i < n; i++) {
        const t = points.time_ms[i];
        const learning = points.learning[i];
        this.t.push(t);
        this.value.push(points.value[i]);
        this.score.push(points.anomaly_score[i]);
        this.learning.push(learning);
        if (this.pending != null) {
          this.predX.push(t);
          this.predY.push(this.pending);
        }
        this.pending = points.prediction[i];
        if (learning === true) {
          if (this.inSpan) this.spans[this.spans.length - 1][1] = t;
          else this.spans.push([t, t]);
          this.inSpan = true;
        } else if (this.inSpan) {
          this.spans[this.spans.length - 1][1] = t; // shade up to the first point past probation
          this.inSpan = false;
        }
        if (points.alert[i]) this.alerts.push({ t, score: points.anomaly_score[i], value: points.value[i] });
        if (points.records_seen[i] != null) this.records = points.records_seen[i];
      }
      if (points.last_ns != null) this.cursor = points.last_ns;
      if (points.older) {
        const history = view.config.history.toLocaleString("en-US");
        $(".card-sub", this.el).textContent =
          `HTM results in measurement ${this.info.measurement} · showing the newest ${history} points at load, then all new ones`;
      }
      return n;
    }

    async poll() {
      if (this.busy) return 0;
      this.busy = true;
      let added = 0;
      try {
        for (;;) {
          const after = this.cursor == null ? "" : `&after=${this.cursor}`;
          const points = await getJSON(`/api/points?series=${encodeURIComponent(this.id)}${after}`);
          added += this.append(points);
          if (!points.more) break;
        }
      } finally {
        this.busy = false;
      }
      if (added > 0 || this.revision === 0) this.render();
      return added;
    }

    last(array) {
      return array.length ? array[array.length - 1] : null;
    }

    render() {
      const threshold = view.config.threshold;
      const first = this.t.length ? this.t[0] : null;
      const lastT = this.last(this.t);
      const alertT = this.alerts.map((a) => a.t);
      const traces = [
        { name: "value", x: this.t, y: this.value, type: "scatter", mode: "lines", line: { color: COLORS.value, width: 1.5 } },
        {
          name: "prediction (made one step earlier)",
          x: this.predX,
          y: this.predY,
          type: "scatter",
          mode: "lines",
          line: { color: COLORS.prediction, width: 1.2, dash: "dot" },
        },
        {
          name: "alert",
          legendgroup: "alert",
          showlegend: false,
          x: alertT,
          y: this.alerts.map((a) => a.value),
          type: "scatter",
          mode: "markers",
          marker: { color: COLORS.alert, size: 10, symbol: "circle-open", line: { width: 2 } },
          hoverinfo: "skip",
        },
        {
          name: "anomaly score",
          x: this.t,
          y: this.score,
          yaxis: "y2",
          type: "scatter",
          mode: "lines",
          line: { color: COLORS.score, width: 1.2 },
        },
        {
          name: `alert threshold (${threshold})`,
          x: first == null ? [] : [first, lastT],
          y: first == null ? [] : [threshold, threshold],
          yaxis: "y2",
          type: "scatter",
          mode: "lines",
          line: { color: COLORS.alert, width: 1.5, dash: "dash" },
          hoverinfo: "skip",
        },
        {
          name: "alert",
          legendgroup: "alert",
          x: alertT,
          y: this.alerts.map((a) => a.score),
          yaxis: "y2",
          type: "scatter",
          mode: "markers",
          marker: { color: COLORS.alert, size: 9, symbol: "x" },
        },
      ];
      const shapes = this.spans.map(([x0, x1], i) => ({
        type: "rect",
        xref: "x",
        yref: "paper",
        x0,
        x1,
        y0: 0,
        y1: 1,
        fillcolor: COLORS.learning,
        line: { width: 0 },
        layer: "below",
        name: "learning (probation)",
        legendgroup: "learning",
        showlegend: i === 0,
      }));
      this.revision += 1;
      const layout = {
        uirevision: this.id, // keep the operator's zoom while points are appended
        datarevision: this.revision,
        margin: { l: 64, r: 16, t: 36, b: 48 },
        paper_bgcolor: "#ffffff",
        plot_bgcolor: "#ffffff",
        font: { family: "DejaVu Sans, sans-serif", size: 12, color: "#1d2733" },
        hovermode: "x unified",
        legend: { orientation: "h", x: 0, y: 1.02, xanchor: "left", yanchor: "bottom" },
        xaxis: { type: "date", anchor: "y2", title: { text: "time (UTC)" }, gridcolor: "#e6eaee" },
        yaxis: { domain: [0.42, 1], title: { text: "value" }, gridcolor: "#e6eaee", zeroline: false },
        yaxis2: { domain: [0, 0.34], title: { text: "anomaly score" }, range: [-0.03, 1.05], gridcolor: "#e6eaee", zeroline: false },
        shapes,
      };
      Plotly.react(this.chart, traces, layout, { responsive: true, displaylogo: false });
      this.el.dataset.points = String(this.t.length);
      this.el.dataset.lastMs = lastT == null ? "" : String(lastT);
      this.renderBadges();
      this.renderAlerts();
    }

    renderBadges() {
      const lastLearning = this.last(this.learning);
      const state = stateOf(lastLearning);
      const badge = $(".badge.state", this.el);
      badge.textContent = state.text;
      badge.className = "badge state " + state.cls;
      badge.title =
        lastLearning === true
          ? "the model is within its probation: its scores are not trusted and raise no alerts"
          : lastLearning === false
            ? "the model is past its probation: its scores raise alerts"
            : "these results do not say whether the model is learning";
      $(".badge.records", this.el).textContent = `records seen ${this.records == null ? "—" : this.records.toLocaleString("en-US")}`;
      const lastScore = this.last(this.score);
      const score = $(".badge.score", this.el);
      score.textContent = `last score ${fmtNum(lastScore)}`;
      const lastIsAlert = this.alerts.length > 0 && this.last(this.alerts).t === this.last(this.t);
      score.classList.toggle("alerting", lastIsAlert);
      $(".badge.last", this.el).textContent = `last point ${fmtTime(this.last(this.t))} UTC`;
    }

    renderAlerts() {
      const body = $(".alerts tbody", this.el);
      const rows = this.alerts.slice(-MAX_ALERT_ROWS).reverse();
      body.replaceChildren(
        ...rows.map((a) => {
          const tr = document.createElement("tr");
          for (const [text, cls] of [[fmtTime(a.t), ""], [fmtNum(a.score), "num"], [fmtNum(a.value, 2), "num"]]) {
            const td = document.createElement("td");
            td.textContent = text;
            if (cls) td.className = cls;
            tr.appendChild(td);
          }
          return tr;
        }),
      );
      $(".alert-count", this.el).textContent = this.alerts.length ? `(${this.alerts.length}, newest first)` : "";
      $(".alerts .none", this.el).hidden = this.alerts.length > 0;
    }

    modelRow() {
      const tr = document.createElement("tr");
      tr.dataset.seriesId = this.id;
      const info = this.info;
      const lastLearning = this.last(this.learning);
      const lastScore = this.last(this.score);
      const lastIsAlert = this.alerts.length > 0 && this.last(this.alerts).t === this.last(this.t);
      const state = stateOf(lastLearning);
      const cells = [
        [this.title(), "series"],
        [info.measurement, "results"],
        [state.text, "state"],
        [this.records == null ? "—" : this.records.toLocaleString("en-US"), "num records"],
        [fmtNum(lastScore), "num score" + (lastIsAlert ? " alerting" : "")],
        [String(this.alerts.length), "num n-alerts"],
        [fmtTime(this.last(this.t)), "last"],
      ];
      for (const [text, cls] of cells) {
        const td = document.createElement("td");
        td.textContent = text;
        td.className = cls;
        if (cls === "state") {
          const span = document.createElement("span");
          span.className = "badge " + state.cls;
          span.textContent = text;
          td.replaceChildren(span);
        }
        tr.appendChild(td);
      }
      tr.addEventListener("click", () => this.el.scrollIntoView({ behavior: "smooth" }));
      return tr;
    }
  }

  function renderModels() {
    const cards = [...view.cards.values()].sort((a, b) => a.info.title.localeCompare(b.info.title));
    $("#models tbody").replaceChildren(...cards.map((card) => card.modelRow()));
    $("#no-models").hidden = cards.length > 0;
  }

  async function refreshSeries() {
    const { series } = await getJSON("/api/series");
    for (const info of series) {
      const card = view.cards.get(info.id);
      if (card) card.info = info;
      else view.cards.set(info.id, new Card(info));
    }
  }

  async function tick() {
    try {
      if (view.polls % SERIES_EVERY === 0) await refreshSeries();
      view.polls += 1;
      await Promise.all([...view.cards.values()].map((card) => card.poll()));
      renderModels();
      view.lastUpdate = Date.now();
      setStatus(true, `live · updated ${new Date().toISOString().slice(11, 19)} UTC`);
    } catch (error) {
      const shown = view.lastUpdate ? ` · last update ${new Date(view.lastUpdate).toISOString().slice(11, 19)} UTC` : "";
      setStatus(false, `no data, retrying${shown}`, `Cannot read the results: ${error.message}`);
    } finally {
      setTimeout(tick, view.config.poll_ms);
    }
  }

  async function start() {
    for (;;) {
      try {
        view.config = await getJSON("/api/config");
        break;
      } catch (error) {
        setStatus(false, "dashboard server unreachable, retrying", `Cannot reach the dashboard server: ${error.message}`);
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
    const config = view.config;
    $("#source").textContent =
      `database ${config.database}${config.retention_policy ? "." + config.retention_policy : ""} at ${config.influx_url}` +
      ` · new points every ${(config.poll_ms / 1000).toFixed(1)} s`;
    $("#rule").innerHTML = "";
    $("#rule").append(
      `Alert: anomaly score ≥ ${config.threshold} while the model is past its probation (the rule of the alert TICKscript). ` +
        "Shaded periods: the model was learning (probation), so its scores there raise no alerts.",
    );
    tick();
  }

  start();
})();

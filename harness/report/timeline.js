// The report's interactive timeline and anomaly list, drawn from the JSON in #timeline-data
// (see harness/report/timeline.py for its shape). No libraries, no network: one canvas, plain DOM.
// Wheel = zoom around the pointer, drag = pan, double-click = whole run; click an anomaly to
// highlight its operations (and, for linearizability, the prefix that linearized and the op that cannot).
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("timeline-data").textContent);
  var ops = decode(data.ops), n = ops.s.length, nLanes = data.lanes.length;
  var END = Math.max(data.end_ms, 1e-6);
  var LABEL_W = 86, AXIS_H = 22, FAULT_ROW_H = 15, PAD_R = 12;
  var TYPES = ["ok", "fail", "info"];
  var laneH = nLanes <= 12 ? 24 : nLanes <= 24 ? 18 : nLanes <= 40 ? 13 : Math.max(5, Math.floor(520 / nLanes));

  var view = { from: 0, to: END };

  // undo timeline.py's encode_ops: s/e in ms (e = -1: never completed), absolute event indices
  function decode(c) {
    var m = c.s.length, out = { lane: c.lane, t: c.t, f: c.f, k: c.k,
      s: new Float64Array(m), e: new Float64Array(m), inv: new Int32Array(m), cmp: new Int32Array(m), d: new Array(m) };
    var start = 0, index = 0;
    for (var j = 0; j < m; j++) {
      start += c.s[j]; index += c.inv[j];
      out.s[j] = start / 1000;
      out.e[j] = c.dur[j] < 0 ? -1 : (start + c.dur[j]) / 1000;
      out.inv[j] = index;
      out.cmp[j] = c.cmp[j] > 0 ? index + c.cmp[j] : -1;
      out.d[j] = c.texts[c.d[j]];
    }
    return out;
  }
  var selected = -1, highlight = null;   // highlight: {ops: Set, prefix: Set, cannot: Set}

  // lay fault labels in rows so that overlapping windows do not write over each other
  var faultRow = [], rowEnds = [];
  data.faults.forEach(function (w, i) {
    var r = 0;
    while (r < rowEnds.length && rowEnds[r] > w.s) r++;
    rowEnds[r] = w.s + Math.max(w.e - w.s, END * 0.12);
    faultRow[i] = r;
  });
  var FAULT_H = Math.max(1, rowEnds.length) * FAULT_ROW_H + 4;
  var TOP = FAULT_H + AXIS_H;

  // per lane, op numbers sorted by start, for hit-testing the pointer
  var byLane = [];
  for (var l = 0; l < nLanes; l++) byLane.push([]);
  for (var i = 0; i < n; i++) byLane[ops.lane[i]].push(i);
  byLane.forEach(function (list) { list.sort(function (a, b) { return ops.s[a] - ops.s[b]; }); });

  function opEnd(i) { return ops.e[i] < 0 ? END : ops.e[i]; }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fmtTime(ms, span) {
    if (span >= 5000) return (ms / 1000).toFixed(span >= 50000 ? 0 : 1) + " s";
    if (span >= 5) return (ms >= 1000 ? (ms / 1000).toFixed(3) + " s" : ms.toFixed(span >= 50 ? 0 : 1) + " ms");
    return (ms * 1000).toFixed(span >= 0.05 ? 0 : 2) + " µs";
  }

  function fmtPoint(ms) {
    if (ms === 0) return "0 s";
    return ms >= 1000 ? (ms / 1000).toFixed(3) + " s" : ms.toFixed(2) + " ms";
  }

  // ---------------------------------------------------------------- DOM scaffold
  var root = document.getElementById("timeline");
  var toolbar = el("div", { "class": "tl-toolbar" });
  var legend = el("span", { "class": "tl-legend" });
  TYPES.forEach(function (t) {
    var item = el("span", { "class": "tl-key" });
    var sw = el("i", { "class": "swatch" });
    sw.style.background = data.colours[t];
    item.appendChild(sw);
    item.appendChild(document.createTextNode(t === "info" ? "info (unknown outcome)" : t));
    legend.appendChild(item);
  });
  var hl = el("span", { "class": "tl-key" });
  var hsw = el("i", { "class": "swatch swatch-hl" });
  hl.appendChild(hsw); hl.appendChild(document.createTextNode("ops of the selected anomaly"));
  legend.appendChild(hl);
  if (data.anomalies.some(function (a) { return a.severity === "anomaly"; })) {
    var mk = el("span", { "class": "tl-key" });
    mk.appendChild(el("i", { "class": "marker" }, "▼"));
    mk.appendChild(document.createTextNode("anomaly (click it in the list below)"));
    legend.appendChild(mk);
  }
  var reset = el("button", { type: "button", id: "tl-reset" }, "Whole run");
  var clear = el("button", { type: "button", id: "tl-clear" }, "Clear highlight");
  var where = el("span", { "class": "tl-where" });
  toolbar.appendChild(legend); toolbar.appendChild(where); toolbar.appendChild(reset); toolbar.appendChild(clear);
  var canvas = el("canvas", { id: "timeline-canvas" });
  var tooltip = el("div", { id: "tl-tooltip", "class": "tl-tooltip" });
  var hint = el("div", { "class": "tl-hint" },
    "Wheel: zoom · drag: pan · double-click: whole run · hover a bar for its operation · " +
    n + " operations in " + nLanes + " lanes" +
    (data.lanes.some(function (x) { return x.processes.length > 1; }) ?
      " (processes that replaced a crashed or timed-out worker share its lane)" : ""));
  root.appendChild(toolbar); root.appendChild(canvas); root.appendChild(hint); root.appendChild(tooltip);
  var ctx = canvas.getContext("2d");
  var width = 0, height = TOP + nLanes * laneH + 8;

  function x(t) { return LABEL_W + (t - view.from) / (view.to - view.from) * (width - LABEL_W - PAD_R); }
  function tAt(px) { return view.from + (px - LABEL_W) / (width - LABEL_W - PAD_R) * (view.to - view.from); }

  function resize() {
    width = Math.max(400, root.clientWidth || 1000);
    var ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = width + "px";
    canvas.style.height = height + "px";
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    draw();
  }

  function niceStep(span, target) {
    var raw = span / target, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 5, 10];
    for (var k = 0; k < steps.length; k++) if (steps[k] * mag >= raw) return steps[k] * mag;
    return 10 * mag;
  }

  // ---------------------------------------------------------------- drawing
  function draw() {
    var plotR = width - PAD_R, span = view.to - view.from;
    ctx.clearRect(0, 0, width, height);
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    for (var l = 0; l < nLanes; l++) {            // lane stripes and labels
      var y = TOP + l * laneH;
      if (l % 2 === 0) { ctx.fillStyle = "#f4f5f7"; ctx.fillRect(LABEL_W, y, plotR - LABEL_W, laneH); }
      if (laneH >= 9) {
        ctx.fillStyle = "#444"; ctx.textAlign = "right";
        ctx.fillText(data.lanes[l].label, LABEL_W - 6, y + laneH / 2);
      }
    }
    ctx.save();
    ctx.beginPath(); ctx.rect(LABEL_W, 0, plotR - LABEL_W, height); ctx.clip();
    data.faults.forEach(function (w, i) {          // fault windows: shaded, bordered, labelled
      if (w.e < view.from || w.s > view.to) return;
      var x0 = x(w.s), x1 = Math.max(x(w.e), x0 + 1);
      ctx.globalAlpha = 0.15; ctx.fillStyle = w.colour;
      ctx.fillRect(x0, FAULT_H - 2, x1 - x0, height - FAULT_H);
      ctx.globalAlpha = 0.7; ctx.fillRect(x0, faultRow[i] * FAULT_ROW_H + 2, x1 - x0, FAULT_ROW_H - 3);
      ctx.globalAlpha = 1; ctx.strokeStyle = w.colour; ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(x0, FAULT_H - 2); ctx.lineTo(x0, height); ctx.stroke();
      if (w.stopped) { ctx.beginPath(); ctx.moveTo(x1, FAULT_H - 2); ctx.lineTo(x1, height); ctx.stroke(); }
      var text = w.label + (w.stopped ? "" : " (never stopped)"), tx = Math.max(x0, LABEL_W) + 3;
      var fits = ctx.measureText(text).width + 6 <= x1 - tx;   // else written beside the bar, in its colour
      ctx.fillStyle = fits ? "#fff" : w.colour; ctx.textAlign = "left";
      ctx.fillText(text, fits ? tx : x1 + 3, faultRow[i] * FAULT_ROW_H + 2 + (FAULT_ROW_H - 3) / 2);
    });
    var step = niceStep(span, Math.max(2, (width - LABEL_W) / 110));   // time grid
    ctx.strokeStyle = "#ddd"; ctx.lineWidth = 1;
    for (var t = Math.ceil(view.from / step) * step; t <= view.to; t += step) {
      var xt = Math.round(x(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(xt, FAULT_H + AXIS_H - 5); ctx.lineTo(xt, height); ctx.stroke();
    }
    var drawn = 0, textOk = laneH >= 13;
    var barTop = laneH >= 9 ? 2 : 1;
    for (var i = 0; i < n; i++) {                  // one bar per op
      var s = ops.s[i], e = opEnd(i);
      if (e < view.from || s > view.to) continue;
      var x0 = x(s), x1 = Math.max(x(e), x0 + 1);
      if (x1 - x0 > 4) x1 -= 1;                    // a gap, so back-to-back ops stay distinct
      var yTop = TOP + ops.lane[i] * laneH + barTop, h = laneH - 2 * barTop;
      var dim = highlight && !highlight.all.has(i);
      ctx.globalAlpha = dim ? 0.18 : (ops.e[i] < 0 ? 0.45 : 1);
      ctx.fillStyle = data.colours[TYPES[ops.t[i]]];
      ctx.fillRect(x0, yTop, x1 - x0, h);
      drawn++;
      if (textOk && x1 - x0 > 42 && !dim) {
        ctx.globalAlpha = 1; ctx.fillStyle = "#111"; ctx.textAlign = "left";
        ctx.save(); ctx.beginPath(); ctx.rect(x0, yTop, x1 - x0, h); ctx.clip();
        ctx.fillText(data.fs[ops.f[i]] + " " + ops.d[i], Math.max(x0, LABEL_W) + 3, yTop + h / 2);
        ctx.restore();
      }
    }
    ctx.globalAlpha = 1;
    data.anomalies.forEach(function (a, k) {       // a red marker above the lanes where each anomaly is
      if (a.severity !== "anomaly") return;
      var at = a.cannot.length ? a.cannot : a.ops;
      if (!at.length) return;
      var t0 = Math.min.apply(null, at.map(function (i) { return ops.s[i]; }));
      if (t0 < view.from || t0 > view.to) return;
      var xm = x(t0), ym = TOP - 2;
      ctx.fillStyle = k === selected ? "#111" : "#d0021b";
      ctx.beginPath(); ctx.moveTo(xm - 5, ym - 8); ctx.lineTo(xm + 5, ym - 8); ctx.lineTo(xm, ym); ctx.closePath(); ctx.fill();
    });
    if (highlight) {                               // outlines on top of every bar
      outline(highlight.prefix, "#1e63c8", 1.5);
      outline(highlight.ops, "#111", 2.5);
      outline(highlight.cannot, "#d0021b", 3);
      labelHighlighted();
    }
    ctx.restore();
    ctx.fillStyle = "#555";                        // tick labels, kept inside the plot's edges
    for (var tt = Math.ceil(view.from / step) * step; tt <= view.to; tt += step) {
      var xl = x(tt), label = fmtTime(tt, span), w2 = ctx.measureText(label).width / 2;
      ctx.textAlign = "center";
      ctx.fillText(label, Math.min(Math.max(xl, LABEL_W + w2), plotR - w2), FAULT_H + AXIS_H / 2 - 2);
    }
    ctx.strokeStyle = "#bbb"; ctx.lineWidth = 1;
    ctx.strokeRect(LABEL_W + 0.5, TOP - 0.5, plotR - LABEL_W, nLanes * laneH + 1);
    where.textContent = "showing " + fmtPoint(view.from) + " – " + fmtPoint(view.to) +
      " of " + fmtPoint(END);
    root.setAttribute("data-bars-drawn", String(drawn));
  }

  // Highlighted ops are usually too short for text inside their bar: write "f value -> result"
  // beside each (when few enough are in view to stay readable).
  function labelHighlighted() {
    var shown = [];
    highlight.all.forEach(function (i) { if (opEnd(i) >= view.from && ops.s[i] <= view.to) shown.push(i); });
    if (shown.length > 60 || laneH < 13) return;
    ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "left"; ctx.textBaseline = "middle";
    shown.forEach(function (i) {
      var x0 = x(ops.s[i]), x1 = Math.max(x(opEnd(i)), x0 + 2);
      if (x1 - x0 > 42) return;                    // already labelled inside its bar
      var text = data.fs[ops.f[i]] + " " + ops.d[i], w = ctx.measureText(text).width;
      var yMid = TOP + ops.lane[i] * laneH + laneH / 2, tx = x1 + 4;
      ctx.globalAlpha = 0.85; ctx.fillStyle = "#fff"; ctx.fillRect(tx - 2, yMid - 7, w + 4, 14);
      ctx.globalAlpha = 1;
      ctx.fillStyle = highlight.cannot.has(i) ? "#d0021b" : highlight.ops.has(i) ? "#111" : "#1e63c8";
      ctx.fillText(text, tx, yMid);
    });
  }

  function outline(set, colour, lineWidth) {
    ctx.strokeStyle = colour; ctx.lineWidth = lineWidth;
    set.forEach(function (i) {
      var s = ops.s[i], e = opEnd(i);
      if (e < view.from || s > view.to) return;
      var x0 = x(s), x1 = Math.max(x(e), x0 + 2);
      var yTop = TOP + ops.lane[i] * laneH + 1;
      ctx.strokeRect(x0 - 1, yTop, x1 - x0 + 2, laneH - 2);
    });
  }

  // ---------------------------------------------------------------- interaction
  function opAt(px, py) {
    var lane = Math.floor((py - TOP) / laneH);
    if (lane < 0 || lane >= nLanes || px < LABEL_W) return -1;
    var t = tAt(px), slack = 3 * (view.to - view.from) / (width - LABEL_W);
    var list = byLane[lane], lo = 0, hi = list.length - 1, found = -1;
    while (lo <= hi) {                             // last op starting before t + slack
      var mid = (lo + hi) >> 1;
      if (ops.s[list[mid]] <= t + slack) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    for (var k = found; k >= 0 && k > found - 50; k--) {
      var i = list[k];
      if (opEnd(i) + slack >= t) return i;
    }
    return -1;
  }

  function opText(i) {
    var lane = data.lanes[ops.lane[i]];
    var lines = [
      data.fs[ops.f[i]] + " " + (ops.d[i] || "") + "  [" + TYPES[ops.t[i]] + "]",
      "key " + data.keys[ops.k[i]] + " · lane " + lane.label,
      "invoked " + fmtPoint(ops.s[i]) + (ops.e[i] < 0 ? " · never completed" :
        " · completed " + fmtPoint(ops.e[i]) + " · " + (ops.e[i] - ops.s[i]).toFixed(2) + " ms"),
      "events #" + ops.inv[i] + (ops.cmp[i] >= 0 ? " / #" + ops.cmp[i] : "") + " · op " + i
    ];
    var active = data.faults.filter(function (w) { return w.s <= opEnd(i) && w.e >= ops.s[i]; });
    if (active.length) lines.push("during: " + active.map(function (w) { return w.label; }).join(", "));
    return lines.join("\n");
  }

  var drag = null;
  canvas.addEventListener("mousedown", function (ev) { drag = { x: ev.clientX, from: view.from, to: view.to }; });
  window.addEventListener("mouseup", function () { drag = null; });
  canvas.addEventListener("mousemove", function (ev) {
    var rect = canvas.getBoundingClientRect(), px = ev.clientX - rect.left, py = ev.clientY - rect.top;
    if (drag) {
      var dt = (ev.clientX - drag.x) / (width - LABEL_W - PAD_R) * (drag.to - drag.from);
      view.from = drag.from - dt; view.to = drag.to - dt; draw();
      tooltip.style.display = "none";
      return;
    }
    var i = opAt(px, py);
    if (i < 0) { tooltip.style.display = "none"; return; }
    tooltip.textContent = opText(i);
    tooltip.style.display = "block";
    tooltip.style.left = Math.min(px + 14, width - 330) + "px";
    tooltip.style.top = (py + canvas.offsetTop + 14) + "px";
  });
  canvas.addEventListener("mouseleave", function () { tooltip.style.display = "none"; });
  canvas.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var rect = canvas.getBoundingClientRect(), t = tAt(ev.clientX - rect.left);
    var factor = ev.deltaY > 0 ? 1.25 : 0.8;
    var from = t - (t - view.from) * factor, to = t + (view.to - t) * factor;
    if (to - from < 1e-4) return;
    view.from = from; view.to = to; draw();
  }, { passive: false });
  canvas.addEventListener("dblclick", function () { view.from = 0; view.to = END; draw(); });
  reset.addEventListener("click", function () { view.from = 0; view.to = END; draw(); });
  clear.addEventListener("click", function () { select(-1); });

  // ---------------------------------------------------------------- anomaly list
  var list = document.getElementById("anomalies");
  var items = [];

  function opLine(i, role) {
    var li = el("li", { "class": "op-line " + role });
    li.textContent = (role === "cannot" ? "✗ " : "") + data.lanes[ops.lane[i]].label.split(" ")[0] +
      (data.lanes[ops.lane[i]].processes.length > 1 ? "" : "") + " " + data.fs[ops.f[i]] + " " +
      (ops.d[i] || "") + " [" + TYPES[ops.t[i]] + "] at " + fmtPoint(ops.s[i]) +
      " (events #" + ops.inv[i] + (ops.cmp[i] >= 0 ? "/#" + ops.cmp[i] : "") + ")";
    return li;
  }

  function select(k, scroll) {
    if (selected >= 0 && items[selected]) items[selected].classList.remove("selected");
    if (k === selected || k < 0) { selected = -1; highlight = null; draw(); return; }
    selected = k;
    var a = data.anomalies[k];
    items[k].classList.add("selected");
    highlight = { ops: new Set(a.ops), prefix: new Set(a.prefix), cannot: new Set(a.cannot), all: new Set() };
    [a.ops, a.prefix, a.cannot].forEach(function (xs) { xs.forEach(function (i) { highlight.all.add(i); }); });
    var focus = a.ops.concat(a.cannot, a.prefix.slice(-3));   // with the prefix's last ops as context
    if (focus.length) {                            // zoom onto the anomaly's ops
      var lo = Infinity, hi = -Infinity;
      focus.forEach(function (i) { lo = Math.min(lo, ops.s[i]); hi = Math.max(hi, opEnd(i)); });
      var pad = Math.max((hi - lo) * 0.5, END * 0.005, 2);
      view.from = lo - pad; view.to = hi + pad;
    }
    draw();
    if (scroll) root.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  var heading = document.getElementById("anomalies-count");
  var anomalyCount = data.anomalies.filter(function (a) { return a.severity === "anomaly"; }).length;
  var ul = el("ul", { id: "anomaly-list", "data-count": String(data.anomalies.length) });
  if (!data.anomalies.length) ul.appendChild(el("li", { "class": "none" }, "No anomalies: every checker found the history valid."));
  data.anomalies.forEach(function (a, k) {
    var li = el("li", { "class": "finding " + a.severity, "data-anomaly": String(k), tabindex: "0" });
    var head = el("div", { "class": "anomaly-head" });
    head.appendChild(el("span", { "class": "badge " + a.severity }, a.severity === "anomaly" ? a.checker : a.checker + " warning"));
    head.appendChild(el("b", {}, a.kind + (a.key !== null ? " · key " + a.key : "")));
    head.appendChild(el("span", { "class": "msg" }, a.message || ""));
    li.appendChild(head);
    var body = el("div", { "class": "anomaly-body" });
    if (a.prefix_total) {
      var last = a.prefix.length ? a.prefix[a.prefix.length - 1] : -1;
      body.appendChild(el("div", { "class": "prefix" }, "Linearized prefix: " + a.prefix_total +
        " ops (outlined blue)" + (last >= 0 ? "; its last op: " + data.fs[ops.f[last]] + " " + ops.d[last] +
        " at " + fmtPoint(ops.s[last]) : "")));
    }
    if (a.cannot.length) {
      body.appendChild(el("div", { "class": "cannot-title" }, "Cannot be linearized after it (outlined red):"));
      var c = el("ul", { "class": "ops" });
      a.cannot.forEach(function (i) { c.appendChild(opLine(i, "cannot")); });
      body.appendChild(c);
    }
    var others = a.ops.filter(function (i) { return a.cannot.indexOf(i) < 0; });
    if (others.length) {
      var o = el("ul", { "class": "ops" });
      others.slice(0, 12).forEach(function (i) { o.appendChild(opLine(i, "op")); });
      if (others.length > 12) o.appendChild(el("li", { "class": "op-line more" }, "… and " + (others.length - 12) + " more"));
      body.appendChild(o);
    }
    if (a.explanation) body.appendChild(el("pre", { "class": "explanation" }, a.explanation));
    li.appendChild(body);
    li.addEventListener("click", function () { select(k, true); });
    li.addEventListener("keydown", function (ev) { if (ev.key === "Enter") select(k, true); });
    items.push(li);
    ul.appendChild(li);
  });
  if (data.omitted_anomalies) ul.appendChild(el("li", { "class": "none" }, "… " + data.omitted_anomalies + " more not listed (see results.json)"));
  list.appendChild(ul);
  if (heading) heading.textContent = anomalyCount + " anomal" + (anomalyCount === 1 ? "y" : "ies") +
    (data.anomalies.length > anomalyCount ? ", " + (data.anomalies.length - anomalyCount) + " warnings" : "") +
    (anomalyCount ? " — click one to highlight its operations in the timeline" : "");

  window.addEventListener("resize", resize);
  resize();
  var wanted = /anomaly=(\d+)/.exec(window.location.hash);   // report.html#anomaly=0 links to one
  if (wanted && +wanted[1] < items.length) select(+wanted[1]);
  root.setAttribute("data-rendered", "true");
})();

/**
 * The dashboard page's script (plain browser JavaScript, run as is). Every second it fetches
 * `/ui/data` (a `DashboardSnapshot`), turns the newest snapshot and the one `RATE_WINDOW` polls
 * earlier into rates, means and percentiles, and appends one point to each uPlot chart.
 * `window.bargeDashboard` exposes the charts' data to tests.
 */
export const DASHBOARD_SCRIPT = `
'use strict';
(function () {
  var POLL_MS = 1000;
  var RATE_WINDOW = 5; // polls: rates and percentiles are over the last 5 s
  var MAX_POINTS = 300; // 5 minutes of points per chart
  var MB = 1e6;
  var GB = 1e9;
  var COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];

  // A counter's increase over the window; null when absent or reset (the broker restarted).
  function inc(w, key) {
    var a = w.from.counters[key], b = w.to.counters[key];
    return a == null || b == null || b < a ? null : b - a;
  }
  function rate(w, key, unit) {
    var d = inc(w, key);
    return d == null ? null : d / w.seconds / (unit || 1);
  }
  // A histogram's observations in the window (bucket by bucket), or null.
  function hist(w, key) {
    var a = w.from.histograms[key], b = w.to.histograms[key];
    if (a && a.count === 0) return b; // a labelled histogram has no buckets before its first observation
    if (!a || !b || b.count < a.count || a.buckets.length !== b.buckets.length) return null;
    return {
      buckets: b.buckets.map(function (x, i) { return [x[0], x[1] - a.buckets[i][1]]; }),
      count: b.count - a.count,
      sum: b.sum - a.sum,
    };
  }
  // Quantile q of a window histogram, interpolated inside its bucket (as PromQL's histogram_quantile).
  function quantile(h, q) {
    if (!h || h.count <= 0) return null;
    var rank = q * h.count, lower = 0, below = 0;
    for (var i = 0; i < h.buckets.length; i++) {
      var le = h.buckets[i][0], n = h.buckets[i][1];
      if (n >= rank) return lower + (le - lower) * (n > below ? (rank - below) / (n - below) : 1);
      lower = le;
      below = n;
    }
    return lower; // in the +Inf bucket: its lower bound
  }
  function mean(h, unit) {
    return h && h.count > 0 ? h.sum / h.count / (unit || 1) : null;
  }
  function ratio(num, den, scale) {
    return num == null || den == null || den <= 0 ? null : (num / den) * scale;
  }
  function perGroup(snapshot, key) {
    return snapshot.lag.filter(function (g) { return g[key] != null; }).map(function (g) {
      return { label: g.group, scale: key, value: g[key] };
    });
  }

  // Each chart: a title and, for a window w, its series as { label, scale, value }.
  var CHARTS = [
    { id: 'produce', title: 'Produce throughput', sample: function (w) { return [
      { label: 'messages/s', scale: 'messages/s', value: rate(w, 'produceMessages') },
      { label: 'MB/s', scale: 'MB/s', value: rate(w, 'produceBytes', MB) },
    ]; } },
    { id: 'consume', title: 'Consume throughput (read proxy)', sample: function (w) {
      var h = hist(w, 'readProxyBytes');
      return [
        { label: 'reads/s', scale: 'reads/s', value: h ? h.count / w.seconds : null },
        { label: 'MB/s', scale: 'MB/s', value: h ? h.sum / w.seconds / MB : null },
      ];
    } },
    { id: 'batches', title: 'Batch size (mean)', sample: function (w) { return [
      { label: 'KB per batch', scale: 'KB', value: mean(hist(w, 'batchBytes'), 1e3) },
      { label: 'messages per batch', scale: 'messages', value: mean(hist(w, 'batchMessages')) },
    ]; } },
    { id: 'upload-latency', title: 'Upload latency (ms)', sample: function (w) {
      var h = hist(w, 'uploadSeconds');
      return [0.5, 0.9, 0.99].map(function (q) {
        var s = quantile(h, q);
        return { label: 'p' + Math.round(q * 100), scale: 'ms', value: s == null ? null : s * 1000 };
      });
    } },
    { id: 'lag-messages', title: 'Consumer lag per group (messages)', sample: function (w) {
      return perGroup(w.to, 'messages');
    } },
    { id: 'lag-pointers', title: 'Consumer lag per group (pointers)', sample: function (w) {
      return perGroup(w.to, 'pointers');
    } },
    { id: 'errors', title: 'Errors per second', sample: function (w) { return [
      { label: 'error responses', scale: '/s', value: rate(w, 'requestErrors') },
      { label: 'failed batches', scale: '/s', value: rate(w, 'batchesFailed') },
      { label: 'pointer publish failures', scale: '/s', value: rate(w, 'publishFailures') },
      { label: 'upload retries', scale: '/s', value: rate(w, 'uploadRetries') },
      { label: 'unreadable reads', scale: '/s', value: rate(w, 'unreadableReads') },
    ]; } },
    { id: 'requests-per-gb', title: 'Storage requests per GB ingested', sample: function (w) {
      var puts = hist(w, 'storagePutSeconds');
      var all = w.to.histograms.storagePutSeconds;
      var reads = hist(w, 'readProxyBytes');
      var bytes = inc(w, 'produceBytes');
      return [
        { label: 'PUTs (last ' + RATE_WINDOW + ' s)', scale: 'per GB', value: ratio(puts && puts.count, bytes, GB) },
        { label: 'PUTs (since start)', scale: 'per GB', value: ratio(all && all.count, w.to.counters.produceBytes, GB) },
        { label: 'read-proxy GETs (last ' + RATE_WINDOW + ' s)', scale: 'per GB', value: ratio(reads && reads.count, bytes, GB) },
      ];
    } },
  ];

  var grid = document.getElementById('charts');
  var charts = CHARTS.map(function (spec) {
    var box = document.createElement('section');
    box.className = 'chart';
    box.id = 'chart-' + spec.id;
    var title = document.createElement('h2');
    title.textContent = spec.title;
    box.appendChild(title);
    grid.appendChild(box);
    return { spec: spec, box: box, plot: null, series: [], times: [], columns: [] };
  });

  function chartOptions(chart) {
    var scales = [];
    chart.series.forEach(function (s) { if (scales.indexOf(s.scale) < 0) scales.push(s.scale); });
    return {
      width: Math.max(280, chart.box.clientWidth - 16),
      height: 220,
      legend: { live: false },
      scales: { x: { time: true } },
      series: [{}].concat(chart.series.map(function (s, i) {
        // Every other line dashed: series that coincide (PUTs and GETs per GB) stay visible.
        var dash = i % 2 === 1 ? [8, 4] : undefined;
        return { label: s.label, scale: s.scale, stroke: COLORS[i % COLORS.length], width: 2, dash: dash, spanGaps: false };
      })),
      axes: [{}].concat(scales.map(function (scale, i) {
        return { scale: scale, label: scale, side: i === 0 ? 3 : 1, grid: { show: i === 0 }, size: 60 };
      })),
    };
  }

  function draw(chart) {
    var data = [chart.times].concat(chart.columns);
    if (chart.plot) {
      chart.plot.setData(data);
      return;
    }
    chart.plot = new uPlot(chartOptions(chart), data, chart.box);
  }

  // Appends one point; a series seen for the first time (a new group) gets a column and a new plot.
  function append(chart, t, points) {
    var added = false;
    points.forEach(function (p) {
      if (chart.series.some(function (s) { return s.label === p.label; })) return;
      chart.series.push({ label: p.label, scale: p.scale });
      chart.columns.push(chart.times.map(function () { return null; }));
      added = true;
    });
    chart.times.push(t);
    chart.series.forEach(function (s, i) {
      var p = points.find(function (x) { return x.label === s.label; });
      chart.columns[i].push(p ? p.value : null);
    });
    if (chart.times.length > MAX_POINTS) {
      chart.times.shift();
      chart.columns.forEach(function (c) { c.shift(); });
    }
    if (added && chart.plot) {
      chart.plot.destroy();
      chart.plot = null;
    }
    if (chart.series.length > 0) draw(chart);
  }

  function setText(id, text) {
    document.getElementById(id).textContent = text;
  }
  function showTiles(s) {
    var g = s.gauges;
    var b = s.build;
    setText('build', b ? 'barge ' + b.version + ' · broker ' + (b.broker_id || '?') + ' · ' + b.storage +
      ' + ' + b.pointers + ' · Node.js ' + b.node_version : '');
    setText('connections', g.connections == null ? '–' : String(g.connections));
    setText('inflight', g.inFlightBytes == null ? '–' : (g.inFlightBytes / MB).toFixed(1) + ' MB');
    setText('paused', g.pausedSockets == null ? '–' : String(g.pausedSockets));
    setText('members', g.groupMembers == null ? '–' : String(g.groupMembers));
    setText('orphans', g.orphanBytes == null ? '–' : (g.orphanBytes / MB).toFixed(1) + ' MB');
    setText('messages', s.counters.produceMessages == null ? '–' : String(s.counters.produceMessages));
  }

  var history = [];
  var polls = 0;
  function onSnapshot(s) {
    history.push(s);
    if (history.length > RATE_WINDOW + 1) history.shift();
    showTiles(s);
    var from = history[0];
    if (from === s) return;
    var w = { from: from, to: s, seconds: (s.time - from.time) / 1000 };
    charts.forEach(function (chart) { append(chart, s.time / 1000, chart.spec.sample(w)); });
    polls++;
  }

  function poll() {
    fetch('/ui/data', { cache: 'no-store' })
      .then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.json();
      })
      .then(function (s) {
        onSnapshot(s);
        setText('status', 'updated ' + new Date(s.time).toLocaleTimeString());
        document.body.classList.remove('stale');
      })
      .catch(function (e) {
        setText('status', 'cannot reach the broker: ' + e.message);
        document.body.classList.add('stale');
      })
      .finally(function () { setTimeout(poll, POLL_MS); });
  }

  window.addEventListener('resize', function () {
    charts.forEach(function (c) {
      if (c.plot) c.plot.setSize({ width: Math.max(280, c.box.clientWidth - 16), height: 220 });
    });
  });

  window.bargeDashboard = {
    polls: function () { return polls; },
    series: function (id, label) {
      var chart = charts.find(function (c) { return c.spec.id === id; });
      var i = chart ? chart.series.findIndex(function (s) { return s.label === label; }) : -1;
      return i < 0 ? [] : chart.columns[i].slice();
    },
  };
  poll();
})();
`;

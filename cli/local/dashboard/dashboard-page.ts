/**
 * The local node's dashboard page (HLD §9.2): one HTML document, one script and one style sheet,
 * all served by the node itself, so the page works without internet access and under a strict
 * Content-Security-Policy (no inline script or style, no other origin). The script polls
 * `dashboardDataPath` and draws each panel as an SVG line chart with DOM calls (no `innerHTML`: a
 * tenant id is shown as text, whatever it holds).
 */

/** Where the page, its script, its style sheet and its data are served. */
export const dashboardPaths = {
  page: '/dashboard',
  script: '/dashboard/app.js',
  style: '/dashboard/app.css',
  data: '/dashboard/data.json',
  icon: '/dashboard/icon.svg',
} as const;

/** The page's icon, served by the node so the browser does not ask for `/favicon.ico`. */
export const dashboardIcon =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#0969da"/><polyline points="2,12 6,7 9,9 14,3" fill="none" stroke="#fff" stroke-width="2"/></svg>';

/** The page's Content-Security-Policy: its own script, style and data, nothing else. */
export const dashboardCsp = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const dashboardHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>AgentOS local node</title>
<link rel="icon" href="${dashboardPaths.icon}" type="image/svg+xml">
<link rel="stylesheet" href="${dashboardPaths.style}">
</head>
<body>
<header>
<h1>AgentOS local node <span id="node-id"></span></h1>
<p id="status">loading…</p>
</header>
<section id="health" aria-label="Service health"></section>
<section id="totals" aria-label="Totals since the node started"></section>
<section id="panels" aria-label="Signals"></section>
<h2>Top tenants</h2>
<p class="note" id="tenants-note"></p>
<section id="tenants" aria-label="Top tenants"></section>
<script src="${dashboardPaths.script}"></script>
</body>
</html>
`;

export const dashboardCss = `
body { font: 14px system-ui, sans-serif; margin: 1rem 2rem; color: #1b1f24; background: #f6f8fa; }
h1 { font-size: 1.3rem; margin: 0; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 0.3rem; }
h3 { font-size: 0.95rem; margin: 0 0 0.4rem; }
#status, .note { color: #57606a; margin: 0.3rem 0 0.8rem; }
#health, #totals { display: flex; flex-wrap: wrap; gap: 0.5rem; margin-bottom: 0.8rem; }
.tile { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 0.4rem 0.7rem; min-width: 8rem; }
.tile .label { color: #57606a; font-size: 0.8rem; }
.tile .value { font-size: 1.2rem; font-weight: 600; }
.up { color: #1a7f37; } .down { color: #cf222e; }
#panels, #tenants { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 0.8rem; }
.panel { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 0.6rem; }
.legend { display: flex; flex-wrap: wrap; gap: 0.8rem; font-size: 0.8rem; margin-top: 0.3rem; }
.swatch { display: inline-block; width: 0.7rem; height: 0.7rem; margin-right: 0.25rem; vertical-align: middle; }
.c0 { background: #0969da; } .c1 { background: #cf222e; } .c2 { background: #8250df; } .c3 { background: #1a7f37; }
table { border-collapse: collapse; width: 100%; font-size: 0.85rem; }
th, td { text-align: left; padding: 0.15rem 0.4rem; border-bottom: 1px solid #eaeef2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
`;

export const dashboardScript = `'use strict';
(function () {
  var colors = ['#0969da', '#cf222e', '#8250df', '#1a7f37'];
  var svgNs = 'http://www.w3.org/2000/svg';
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var name in attrs || {}) node.setAttribute(name, attrs[name]);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function svg(tag, attrs) {
    var node = document.createElementNS(svgNs, tag);
    for (var name in attrs) node.setAttribute(name, String(attrs[name]));
    return node;
  }
  function format(value) {
    if (value === null || value === undefined) return '–';
    if (Math.abs(value) >= 1e6) return (value / 1e6).toFixed(1) + 'M';
    if (Math.abs(value) >= 1e4) return (value / 1e3).toFixed(1) + 'k';
    return String(Math.round(value * 100) / 100);
  }
  function replace(container, children) {
    while (container.firstChild) container.removeChild(container.firstChild);
    children.forEach(function (child) { container.appendChild(child); });
  }
  function tile(id, label, value, cls) {
    var box = el('div', { class: 'tile', id: id });
    box.appendChild(el('div', { class: 'label' }, label));
    box.appendChild(el('div', { class: 'value' + (cls ? ' ' + cls : '') }, value));
    return box;
  }
  function chart(panel, points) {
    var width = 360, height = 110, pad = 4;
    var max = 0;
    panel.series.forEach(function (series) {
      points.forEach(function (point) {
        var v = point.values[series.key];
        if (typeof v === 'number' && v > max) max = v;
      });
    });
    var box = el('div', { class: 'panel', id: 'panel-' + panel.id });
    box.appendChild(el('h3', {}, panel.title));
    var drawing = svg('svg', { viewBox: '0 0 ' + width + ' ' + (height + 14), width: '100%', role: 'img' });
    drawing.appendChild(svg('line', { x1: 0, y1: height, x2: width, y2: height, stroke: '#d0d7de' }));
    var top = svg('text', { x: 2, y: 10, 'font-size': 10, fill: '#57606a' });
    top.textContent = format(max) + (panel.unit ? ' ' + panel.unit : '');
    drawing.appendChild(top);
    var n = points.length;
    panel.series.forEach(function (series, index) {
      var coords = [];
      points.forEach(function (point, i) {
        var v = point.values[series.key];
        if (typeof v !== 'number') return;
        var x = n <= 1 ? width : pad + (i * (width - 2 * pad)) / (n - 1);
        var y = height - (max > 0 ? (v / max) * (height - 14) : 0);
        coords.push(x.toFixed(1) + ',' + y.toFixed(1));
      });
      if (coords.length === 0) return;
      drawing.appendChild(svg('polyline', {
        points: coords.join(' '), fill: 'none', stroke: colors[index % colors.length], 'stroke-width': 1.6,
        'data-series': series.key,
      }));
    });
    box.appendChild(drawing);
    var legend = el('div', { class: 'legend' });
    var last = points.length > 0 ? points[points.length - 1].values : {};
    panel.series.forEach(function (series, index) {
      var item = el('span', { 'data-series': series.key });
      item.appendChild(el('span', { class: 'swatch c' + (index % colors.length) }));
      item.appendChild(document.createTextNode(series.label + ': '));
      item.appendChild(el('b', { class: 'latest', id: 'latest-' + series.key }, format(last[series.key])));
      legend.appendChild(item);
    });
    box.appendChild(legend);
    return box;
  }
  function ranking(view) {
    var box = el('div', { class: 'panel', id: 'ranking-' + view.ranking });
    box.appendChild(el('h3', {}, view.title));
    var table = el('table');
    var head = el('tr');
    head.appendChild(el('th', {}, 'tenant'));
    head.appendChild(el('th', {}, view.unit));
    table.appendChild(head);
    if (view.top.length === 0) {
      var empty = el('tr');
      empty.appendChild(el('td', { colspan: '2', class: 'note' }, 'no tenant traffic in the window'));
      table.appendChild(empty);
    }
    view.top.forEach(function (row) {
      var line = el('tr', { class: 'tenant-row' });
      line.appendChild(el('td', { class: 'tenant' }, row.tenant_id));
      line.appendChild(el('td', { class: 'num' }, format(row.value) + (row.overcount > 0 ? ' (±' + format(row.overcount) + ')' : '')));
      table.appendChild(line);
    });
    box.appendChild(table);
    return box;
  }
  function render(data) {
    document.getElementById('node-id').textContent = data.node_id;
    document.getElementById('status').textContent =
      'updated ' + new Date(data.generated_at).toLocaleTimeString() + ', one point every ' + data.period_ms / 1000 + ' s';
    replace(document.getElementById('health'), data.health.map(function (check) {
      var state = check.up === null ? 'unknown' : check.up ? 'up' : 'down';
      return tile('health-' + check.api, check.api, state, check.up === null ? '' : check.up ? 'up' : 'down');
    }));
    replace(document.getElementById('totals'), data.totals.map(function (total) {
      return tile('total-' + total.key, total.label, format(total.value));
    }));
    replace(document.getElementById('panels'), data.panels.map(function (panel) { return chart(panel, data.points); }));
    document.getElementById('tenants-note').textContent =
      'Over the last ' + Math.round(data.tenant_window_ms / 60000) + ' min; estimates, with their possible overcount.';
    replace(document.getElementById('tenants'), data.tenants.map(ranking));
  }
  function poll() {
    fetch('${dashboardPaths.data}', { cache: 'no-store' })
      .then(function (response) {
        if (!response.ok) throw new Error('the node answered ' + response.status);
        return response.json();
      })
      .then(function (data) {
        render(data);
        setTimeout(poll, Math.max(1000, Math.min(data.period_ms, 10000)));
      })
      .catch(function (error) {
        document.getElementById('status').textContent = 'cannot reach the node: ' + error.message;
        setTimeout(poll, 5000);
      });
  }
  poll();
})();
`;

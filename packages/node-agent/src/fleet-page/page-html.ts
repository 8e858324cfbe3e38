// The fleet page: one HTML document with its CSS and script inline, drawing with SVG made here. It loads nothing
// from anywhere (no CDN, no fonts); its only requests go back to the agent that served it: the feed
// (`/fleet/events`) and the preview (`/fleet/preview`). Built for 1,000 nodes (the tables show the top rows and a
// histogram sums the rest) and for a phone's width (panels stack, wide columns hide).

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

const CSS = String.raw`
:root { --bg:#f6f7f9; --panel:#fff; --ink:#1d2330; --mute:#667085; --line:#e3e6eb; --warn:#b54708; --bad:#b42318; --ok:#067647; --accent:#3056d3; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--ink); }
header { display:flex; flex-wrap:wrap; gap:.5rem 1rem; align-items:baseline; padding:.75rem 1rem; background:#101828; color:#fff; }
header h1 { font-size:1.1rem; margin:0; }
header .live { font-size:.85rem; color:#d0d5dd; }
header .live.down { color:#fda29b; }
header .logout { margin-left:auto; }
header .logout button { background:transparent; border-color:#475467; font-size:.8rem; padding:.15rem .5rem; }
.cards { display:grid; grid-template-columns:repeat(auto-fit, minmax(140px, 1fr)); gap:.5rem; padding:.75rem 1rem 0; }
.card { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:.5rem .75rem; }
.card b { display:block; font-size:1.35rem; font-variant-numeric:tabular-nums; }
.card span { color:var(--mute); font-size:.8rem; }
main { display:grid; grid-template-columns:repeat(auto-fit, minmax(340px, 1fr)); gap:.75rem; padding:.75rem 1rem 2rem; }
section.panel { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:.75rem; min-width:0; }
section.wide { grid-column:1 / -1; }
#nodes-panel { grid-column:span 2; }
h2 { font-size:1rem; margin:0 0 .5rem; }
h3 { font-size:.9rem; margin:.75rem 0 .25rem; }
.note { color:var(--mute); font-size:.8rem; margin:.25rem 0; }
.warn { color:var(--warn); }
.bad { color:var(--bad); }
.ok { color:var(--ok); }
.scroll { overflow-x:auto; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { text-align:left; padding:.25rem .4rem; border-bottom:1px solid var(--line); white-space:nowrap; }
th { color:var(--mute); font-weight:600; font-size:.8rem; }
td.num, th.num { text-align:right; }
.sw { display:inline-block; width:.7rem; height:.7rem; border-radius:2px; margin-right:.35rem; vertical-align:-1px; }
.bar { position:relative; display:inline-block; width:90px; height:.6rem; background:#eef0f3; border-radius:3px; vertical-align:middle; margin-left:.35rem; overflow:hidden; }
.bar i { position:absolute; left:0; top:0; bottom:0; background:var(--accent); }
.bar i.hot { background:var(--bad); }
.state-draining { color:var(--warn); font-weight:600; }
.state-joining { color:var(--accent); }
#load-hist { display:block; width:100%; max-width:420px; }
#ring { width:100%; max-width:360px; display:block; margin:0 auto; }
#ring path { fill:none; stroke-width:24; }
#ring path:hover { stroke-width:30; }
.legend { display:flex; flex-wrap:wrap; gap:.15rem .75rem; font-size:.8rem; }
input, select, button { font:inherit; padding:.3rem .45rem; border:1px solid var(--line); border-radius:6px; background:#fff; }
button { background:var(--accent); color:#fff; border-color:var(--accent); cursor:pointer; }
form.row { display:flex; flex-wrap:wrap; gap:.5rem; align-items:end; }
form.row label { display:flex; flex-direction:column; font-size:.8rem; color:var(--mute); }
form.row label.check { flex-direction:row; align-items:center; gap:.3rem; }
ul.epochs { margin:0; padding-left:1.2rem; font-size:.85rem; }
.ids { font-family:ui-monospace, monospace; font-size:.75rem; color:var(--mute); white-space:normal; }
.progress { width:100%; height:.6rem; }
@media (max-width: 640px) {
  main { padding:.5rem; grid-template-columns:1fr; }
  #nodes-panel { grid-column:auto; }
  .cards { padding:.5rem .5rem 0; grid-template-columns:repeat(2, 1fr); }
  .hide-narrow { display:none; }
  .bar { width:50px; }
}
`;

const SCRIPT = String.raw`
(function () {
  'use strict';
  var PREFIX = document.body.getAttribute('data-prefix') || '';
  var CIRCLE = 1048576, CX = 120, CY = 120, R = 92, TOP = 40;
  var state = { updates: 0, rings: 0, snapshot: null, ring: null, preview: null, errors: [] };
  window.__fleet = state;
  var $ = function (id) { return document.getElementById(id); };

  function h(tag, props) {
    var el = document.createElement(tag);
    if (props) for (var k in props) {
      if (k === 'text') el.textContent = props[k];
      else if (k === 'cls') el.className = props[k];
      else el.setAttribute(k, props[k]);
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  function s(tag, attrs) {
    var el = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (var k in attrs) el.setAttribute(k, attrs[k]);
    return el;
  }
  function fill(el) { el.textContent = ''; for (var i = 1; i < arguments.length; i++) if (arguments[i]) el.appendChild(arguments[i]); }
  function fmt(n) { return n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US', { maximumFractionDigits: 1 }); }
  function secs(n) { return n === null || n === undefined ? '–' : (n < 10 ? n.toFixed(2) : n.toFixed(1)) + ' s'; }
  function pct(n) { return (n * 100).toFixed(n < 0.1 ? 2 : 1) + '%'; }
  // Colours are handed out in order of first sight (the ring's sorted ids first), a golden angle apart, so
  // neighbours differ and a node keeps its colour for the life of the page.
  var palette = {}, paletteSize = 0;
  function color(id) {
    if (!(id in palette)) palette[id] = paletteSize++;
    var i = palette[id];
    return 'hsl(' + ((i * 137.508) % 360).toFixed(1) + ',' + (62 + (i % 2) * 16) + '%,' + (40 + (i % 3) * 9) + '%)';
  }
  function swatch(id) { return h('span', { cls: 'sw', style: 'background:' + color(id) }); }
  function bar(frac, hot) { var b = h('span', { cls: 'bar' }); var i = h('i', hot ? { cls: 'hot' } : null); i.style.width = Math.max(0, Math.min(1, frac)) * 100 + '%'; b.appendChild(i); return b; }
  function cell(text, cls) { return h('td', cls ? { cls: cls } : null, text); }
  function table(head, rows) {
    var tr = h('tr');
    head.forEach(function (c) { tr.appendChild(h('th', c.num ? { cls: 'num' + (c.cls ? ' ' + c.cls : '') } : c.cls ? { cls: c.cls } : null, c.t)); });
    var t = h('table', null, h('thead', null, tr));
    var body = h('tbody');
    rows.forEach(function (r) { body.appendChild(r); });
    t.appendChild(body);
    return h('div', { cls: 'scroll' }, t);
  }

  // ---- the ring ----
  function f(x) { return x.toFixed(2); }
  function arcD(a, b) {
    if (b - a >= CIRCLE) return arcD(a, a + CIRCLE / 2) + arcD(a + CIRCLE / 2, b);
    if (b - a < 200) b = a + 200;
    var t0 = a / CIRCLE * 2 * Math.PI - Math.PI / 2, t1 = b / CIRCLE * 2 * Math.PI - Math.PI / 2;
    return 'M' + f(CX + R * Math.cos(t0)) + ' ' + f(CY + R * Math.sin(t0)) + 'A' + R + ' ' + R + ' 0 ' + (b - a > CIRCLE / 2 ? 1 : 0) + ' 1 ' + f(CX + R * Math.cos(t1)) + ' ' + f(CY + R * Math.sin(t1));
  }
  function drawRing(g) {
    var started = performance.now();
    state.ring = g; state.rings++;
    var svg = $('ring');
    svg.textContent = '';
    svg.appendChild(s('circle', { cx: CX, cy: CY, r: R, fill: 'none', stroke: '#eef0f3', 'stroke-width': 24 }));
    var parts = g.nodes.map(function () { return []; });
    for (var i = 0; i < g.arcs.length; i += 3) parts[g.arcs[i + 2]].push(arcD(g.arcs[i], g.arcs[i + 1]));
    g.nodes.forEach(function (id, k) {
      var p = s('path', { d: parts[k].join(''), stroke: color(id), 'data-node': id });
      var title = s('title', {});
      title.textContent = id + ': ' + pct(g.shares[k]) + ' of keys';
      p.appendChild(title);
      svg.appendChild(p);
    });
    var label = s('text', { x: CX, y: CY - 4, 'text-anchor': 'middle', 'font-size': 22, 'font-weight': 700, fill: '#1d2330', id: 'ring-count' });
    label.textContent = String(g.nodes.length);
    var sub = s('text', { x: CX, y: CY + 16, 'text-anchor': 'middle', 'font-size': 11, fill: '#667085' });
    sub.textContent = (g.nodes.length === 1 ? 'node' : 'nodes') + ' · ' + g.algorithm;
    svg.appendChild(label); svg.appendChild(sub);
    $('ring-note').textContent = g.note;
    var legend = $('ring-legend');
    legend.textContent = '';
    if (g.nodes.length <= 24) g.nodes.forEach(function (id, k) { legend.appendChild(h('span', null, swatch(id), id + ' ' + pct(g.shares[k]))); });
    else legend.appendChild(h('span', { cls: 'note', text: 'hover an arc for its node; colours match the node table' }));
    state.ringMs = performance.now() - started;
    if (state.firstRingAt === undefined) state.firstRingAt = performance.now();
  }

  // ---- the fleet ----
  function render(snap) {
    var started = performance.now();
    state.snapshot = snap; state.updates++;
    var t = snap.totals;
    $('node-count').textContent = fmt(t.members);
    $('node-sub').textContent = snap.ringNodes + ' in the ring' + (t.draining ? ', ' + t.draining + ' draining' : '');
    $('conn-count').textContent = fmt(t.connections);
    $('conn-sub').textContent = 'of ' + fmt(t.capacity) + ' capacity (' + t.answered + ' answering)';
    $('epoch').textContent = String(snap.epoch);
    $('epoch-sub').textContent = 'fingerprint ' + snap.fingerprint.slice(0, 12);
    $('moves-count').textContent = fmt(t.queued);
    $('moves-sub').textContent = fmt(t.arrivals) + ' arrivals/s fleet-wide';
    var unhealthy = t.storeUnhealthy;
    $('store-state').textContent = unhealthy ? unhealthy + ' unhealthy' : 'healthy';
    $('store-state').className = unhealthy ? 'bad' : 'ok';
    $('store-sub').textContent = snap.bus === 'nats' ? 'NATS; ' + snap.missing.length + ' not answering' : 'in-memory membership';
    renderNodes(snap);
    renderFlows(snap);
    renderDrains(snap);
    renderEpochs(snap);
    renderStore(snap);
    $('live').textContent = 'live · served by ' + snap.servedBy + ' · status round ' + snap.statusMs + ' ms · ' + new Date(snap.at).toLocaleTimeString();
    $('live').className = 'live';
    state.renderMs = performance.now() - started;
    if (state.firstFrameAt === undefined) state.firstFrameAt = performance.now();
  }

  function nodeRows(nodes) {
    return nodes.map(function (n) {
      var tr = h('tr', { 'data-node': n.id });
      tr.appendChild(h('td', null, swatch(n.id), n.id));
      tr.appendChild(h('td', { cls: 'state-' + n.state }, n.state + (n.agent && n.agent !== 'serving' && n.agent !== n.state ? ' (' + n.agent + ')' : '') + (n.inRing ? '' : n.state === 'draining' ? '' : ' · not in ring')));
      tr.appendChild(cell(fmt(n.weight), 'num'));
      var load = n.seen ? n.conns / n.cap : 0;
      tr.appendChild(h('td', { cls: 'num conns', 'data-conns': n.seen ? n.conns : '' }, n.seen ? fmt(n.conns) + ' / ' + fmt(n.cap) : '?', n.seen ? bar(load, load > 0.9) : null));
      tr.appendChild(h('td', { cls: 'num' }, n.seen ? fmt(n.arr) + ' / ' + fmt(n.acceptRate) : '? / ' + fmt(n.acceptRate), n.seen ? bar(n.arr / n.acceptRate, n.arr > n.acceptRate) : null));
      tr.appendChild(cell(n.seen ? fmt(n.queued) : '?', 'num'));
      tr.appendChild(cell(fmt(n.inbound), 'num'));
      tr.appendChild(h('td', { cls: 'hide-narrow ids' }, n.url));
      return tr;
    });
  }
  function renderNodes(snap) {
    var q = $('filter').value.trim().toLowerCase();
    var nodes = snap.nodes.filter(function (n) { return !q || n.id.toLowerCase().indexOf(q) >= 0; });
    var rank = function (n) { return (n.state === 'draining' ? 2e12 : 0) + (n.seen ? 1e12 + n.conns : 0); };
    if (nodes.length > TOP) nodes = nodes.slice().sort(function (a, b) { return rank(b) - rank(a) || (a.id < b.id ? -1 : 1); });
    var shown = nodes.slice(0, TOP);
    fill($('nodes'), table([{ t: 'node' }, { t: 'state' }, { t: 'weight', num: 1 }, { t: 'connections / capacity', num: 1 }, { t: 'arrivals/s / accept', num: 1 }, { t: 'moves out', num: 1 }, { t: 'moves in', num: 1 }, { t: 'url', cls: 'hide-narrow' }], nodeRows(shown)));
    $('nodes-more').textContent = nodes.length > TOP ? 'showing ' + TOP + ' of ' + nodes.length + ' nodes: draining first, then the most connections; filter by id for the others' : '';
    renderHistogram(snap);
  }
  function renderHistogram(snap) {
    var box = $('hist');
    if (snap.nodes.length <= TOP) { box.textContent = ''; return; }
    var bins = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], unseen = 0;
    snap.nodes.forEach(function (n) { if (!n.seen) { unseen++; return; } bins[Math.min(10, Math.floor(n.conns / n.cap * 10))]++; });
    var max = Math.max.apply(null, bins.concat([1]));
    var W = 330, H = 90, bw = W / bins.length;
    var svg = s('svg', { viewBox: '0 0 ' + W + ' ' + (H + 28), width: '100%', role: 'img', id: 'load-hist' });
    bins.forEach(function (c, i) {
      var bh = c / max * H;
      var r = s('rect', { x: i * bw + 2, y: H - bh, width: bw - 4, height: Math.max(bh, c ? 1 : 0), fill: i >= 9 ? '#b42318' : '#3056d3' });
      var tt = s('title', {}); tt.textContent = c + ' nodes at ' + (i === 10 ? '100%+' : i * 10 + '-' + (i * 10 + 10) + '%') + ' of capacity'; r.appendChild(tt);
      svg.appendChild(r);
      var lab = s('text', { x: i * bw + bw / 2, y: H + 12, 'text-anchor': 'middle', 'font-size': 9, fill: '#667085' }); lab.textContent = i === 10 ? '100+' : String(i * 10); svg.appendChild(lab);
      if (c) { var v = s('text', { x: i * bw + bw / 2, y: H - bh - 2, 'text-anchor': 'middle', 'font-size': 9, fill: '#1d2330' }); v.textContent = String(c); svg.appendChild(v); }
    });
    var cap = s('text', { x: W / 2, y: H + 25, 'text-anchor': 'middle', 'font-size': 9, fill: '#667085' });
    cap.textContent = 'nodes by load, % of capacity' + (unseen ? ' (' + unseen + ' not answering)' : '');
    svg.appendChild(cap);
    fill(box, svg);
  }
  function renderFlows(snap) {
    var rows = snap.flows.slice(0, 20).map(function (fl) {
      return h('tr', { 'data-flow': fl.from + '>' + fl.to }, h('td', null, swatch(fl.from), fl.from, ' → ', swatch(fl.to), fl.to), cell(fmt(fl.queued), 'num'), cell(fmt(fl.ratePerSec), 'num'), cell(secs(fl.queued / fl.ratePerSec), 'num'));
    });
    fill($('flows'), rows.length ? table([{ t: 'from → to' }, { t: 'queued', num: 1 }, { t: 'rate/s', num: 1 }, { t: 'eta', num: 1 }], rows) : h('p', { cls: 'note', text: 'no move in flight' }));
    $('flows-more').textContent = snap.flows.length > 20 || snap.flowsMore ? (snap.flows.length - 20 + snap.flowsMore) + ' smaller flows not shown' : '';
    var receivers = snap.nodes.filter(function (n) { return n.inbound > 0 || (n.arr || 0) > 0; }).sort(function (a, b) { return b.inbound - a.inbound || (b.arr || 0) - (a.arr || 0); }).slice(0, 20);
    fill($('arrivals'), receivers.length ? table([{ t: 'receiver' }, { t: 'arrivals/s vs accept rate', num: 1 }, { t: 'moves toward it', num: 1 }, { t: 'at accept rate', num: 1 }], receivers.map(function (n) {
      return h('tr', { 'data-node': n.id }, h('td', null, swatch(n.id), n.id), h('td', { cls: 'num' }, fmt(n.arr) + ' / ' + fmt(n.acceptRate), bar((n.arr || 0) / n.acceptRate, (n.arr || 0) > n.acceptRate)), cell(fmt(n.inbound), 'num'), cell(secs(n.inbound / n.acceptRate), 'num'));
    })) : h('p', { cls: 'note', text: 'no arrivals in the last second' }));
  }
  function renderDrains(snap) {
    var draining = snap.nodes.filter(function (n) { return n.state === 'draining' || n.agent === 'draining'; });
    fill($('drains'), draining.length ? table([{ t: 'node' }, { t: 'progress' }, { t: 'left', num: 1 }, { t: 'expected', num: 1 }, { t: 'deadline', num: 1 }], draining.map(function (n) {
      var d = n.drain;
      var p = h('progress', { cls: 'progress', max: 1, value: d ? d.progress : 0 });
      return h('tr', { 'data-node': n.id }, h('td', null, swatch(n.id), n.id), h('td', null, p, d ? ' ' + Math.round(d.progress * 100) + '%' : ' ?'), cell(n.seen ? fmt(n.conns) + (d ? ' of ' + fmt(d.startConnections) : '') : '?', 'num'), cell(d ? secs(d.remainingMs / 1000) : '–', 'num'), cell(d ? secs(Math.max(0, (d.startedAt + d.deadlineMs - (n.seen ? Date.now() : d.startedAt)) / 1000)) : '–', 'num'));
    })) : h('p', { cls: 'note', text: 'no drain in progress' }));
  }
  function renderEpochs(snap) {
    var list = h('ul', { cls: 'epochs' });
    snap.history.slice().reverse().forEach(function (e) {
 list.appendChild(h('li', null, 'epoch ' + e.epoch + ' · ' + e.nodes + ' nodes · ' + e.fingerprint.slice(0, 10) + ' · ' + new Date(e.at).toLocaleTimeString() + (e.movedHere ? ' · ' + fmt(e.movedHere) + ' moved from ' + snap.servedBy : '')));
    });
    fill($('epochs'), snap.history.length ? list : h('p', { cls: 'note', text: 'no epoch yet' }));
  }
  function renderStore(snap) {
    var bad = snap.nodes.filter(function (n) { return n.store && (!n.store.connected || n.store.heartbeatFailing || n.store.placementFrozen); });
    var rows = bad.slice(0, 20).map(function (n) {
      var why = !n.store.connected ? 'disconnected' : n.store.heartbeatFailing ? 'heartbeat failing' : 'placement frozen: ' + n.store.placementFrozen;
      return h('tr', { 'data-node': n.id }, h('td', null, swatch(n.id), n.id), h('td', { cls: 'bad' }, why));
    });
    var others = snap.nodes.filter(function (n) { return n.epoch !== undefined && n.epoch !== snap.epoch; });
    fill($('store'),
      h('p', null, (snap.nodes.length - snap.missing.length - bad.length) + ' of ' + snap.nodes.length + ' nodes report a healthy store.'),
      rows.length ? table([{ t: 'node' }, { t: 'store' }], rows) : null,
      snap.missing.length ? h('p', { cls: 'warn' }, (snap.bus === 'nats' ? 'No status in time from: ' : 'Known from membership only: ') + snap.missing.slice(0, 30).join(', ') + (snap.missing.length > 30 ? ' … (' + snap.missing.length + ')' : '')) : null,
      others.length ? h('p', { cls: 'warn' }, 'On another epoch: ' + others.slice(0, 20).map(function (n) { return n.id + '@' + n.epoch; }).join(', ')) : null);
  }

  // ---- the preview ----
  function changeFromForm() {
    var kind = $('pv-kind').value;
    var ids = $('pv-ids').value.split(',').map(function (x) { return x.trim(); }).filter(Boolean);
    var w = $('pv-weight').value === '' ? undefined : Number($('pv-weight').value);
    if (kind === 'add') return { add: ids.map(function (id) { return w === undefined ? { id: id } : { id: id, weight: w }; }) };
    if (kind === 'remove') return { remove: ids };
    if (kind === 'drain') return { drain: ids };
    if (kind === 'reweight') { var r = {}; ids.forEach(function (id) { r[id] = w; }); return { reweight: r }; }
    var hnd = { from: ids[0], to: $('pv-to').value.trim() };
    if (w !== undefined) hnd.weight = w;
    return { handoff: [hnd] };
  }
  function renderPreview(p) {
    state.preview = p;
    var out = $('preview-out');
    var head = h('p', { id: 'pv-summary' }, h('b', null, p.summary), ': ', fmt(p.totals.moved), ' of ', fmt(p.totals.users == null ? p.totals.connections : p.totals.users), ' connected users move (', p.totals.movedPct + '%', ') · wave ≈ ', secs(p.wave.seconds), p.wave.bottleneck ? ' (slowest: ' + p.wave.bottleneck + ')' : '', ' · ', p.answered.length + ' of ' + p.asked + ' agents answered in ' + p.latencyMs + ' ms');
    var flows = p.flows.slice(0, 20).map(function (fl) {
      var ids = fl.userIds ? h('div', { cls: 'ids' }, fl.userIds.slice(0, 20).join(', ') + (fl.userIds.length > 20 ? ' … +' + (fl.userIds.length - 20) : '')) : null;
      return h('tr', { 'data-flow': fl.from + '>' + fl.to }, h('td', null, swatch(fl.from), fl.from, ' → ', swatch(fl.to), fl.to, ids), cell(fmt(fl.users), 'num'));
    });
    var changed = p.nodes.filter(function (n) { return n.in || n.out || n.state === 'new' || n.nextWeight !== n.weight; })
      .sort(function (a, b) { return Math.abs((b.after || 0) - (b.before || 0)) - Math.abs((a.after || 0) - (a.before || 0)); });
    var rows = changed.slice(0, 30).map(function (n) {
      return h('tr', { 'data-node': n.id }, h('td', null, swatch(n.id), n.id), cell(n.state), cell(fmt(n.before), 'num'), cell(fmt(n.after), 'num'), cell(fmt(n.out), 'num'), cell(fmt(n.in), 'num'), cell(fmt(n.acceptRate), 'num'), cell(secs(n.waveSeconds), 'num'));
    });
    fill(out, head,
      p.note ? h('p', { cls: 'note', text: p.note }) : null,
      p.missing.length ? h('p', { cls: 'warn', id: 'pv-missing' }, 'No answer within ' + p.deadlineMs + ' ms from: ' + p.missing.join(', ') + ' (their users are not counted)') : null,
      p.errors.length ? h('p', { cls: 'bad' }, 'Not applicable: ' + p.errors.slice(0, 5).map(function (e) { return e.node + ': ' + e.error; }).join('; ')) : null,
      p.disagreeing.length ? h('p', { cls: 'warn' }, 'On another placement (answers counted): ' + p.disagreeing.map(function (d) { return d.node + '@' + d.epoch; }).join(', ')) : null,
      flows.length ? h('h3', { text: 'Users moving, per (from, to)' }) : h('p', { cls: 'note', text: 'nobody connected moves' }),
      flows.length ? table([{ t: 'from → to' }, { t: 'users', num: 1 }], flows) : null,
      rows.length ? h('h3', { text: 'Load before and after, and the wave at each receiver\'s accept rate' }) : null,
      rows.length ? table([{ t: 'node' }, { t: 'state' }, { t: 'before', num: 1 }, { t: 'after', num: 1 }, { t: 'out', num: 1 }, { t: 'in', num: 1 }, { t: 'accept/s', num: 1 }, { t: 'wave', num: 1 }], rows) : null,
      changed.length > 30 ? h('p', { cls: 'note', text: (changed.length - 30) + ' more nodes change load slightly' }) : null);
  }
  $('preview-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var body = { change: changeFromForm(), users: $('pv-users').checked };
    $('preview-out').textContent = 'asking every agent…';
    fetch(PREFIX + '/fleet/preview', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), credentials: 'same-origin' })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
      .then(function (x) { if (x.ok) renderPreview(x.j); else fill($('preview-out'), h('p', { cls: 'bad', id: 'pv-error', text: x.j.error || 'preview failed' })); })
      .catch(function (e) { fill($('preview-out'), h('p', { cls: 'bad', text: String(e) })); });
  });
  $('pv-kind').addEventListener('change', function () { $('pv-to-label').style.display = $('pv-kind').value === 'handoff' ? '' : 'none'; });
  $('pv-to-label').style.display = 'none';
  $('filter').addEventListener('input', function () { if (state.snapshot) renderNodes(state.snapshot); });

  // ---- the feed ----
  var es = new EventSource(PREFIX + '/fleet/events');
  es.addEventListener('ring', function (e) { try { drawRing(JSON.parse(e.data)); } catch (err) { state.errors.push(String(err)); } });
  es.addEventListener('fleet', function (e) { try { render(JSON.parse(e.data)); } catch (err) { state.errors.push(String(err)); } });
  es.onerror = function () { $('live').textContent = 'reconnecting…'; $('live').className = 'live down'; };
})();
`;

const BODY = String.raw`
<header><h1>wsring fleet</h1><span id="live" class="live">connecting…</span><form method="post" action="__PREFIX__/fleet/logout" class="logout"><button type="submit">log out</button></form></header>
<div class="cards">
  <div class="card"><b id="node-count">–</b><span id="node-sub">nodes</span></div>
  <div class="card"><b id="conn-count">–</b><span id="conn-sub">connections</span></div>
  <div class="card"><b id="epoch">–</b><span id="epoch-sub">epoch</span></div>
  <div class="card"><b id="moves-count">–</b><span id="moves-sub">moves in flight</span></div>
  <div class="card"><b id="store-state">–</b><span id="store-sub">store</span></div>
</div>
<main>
  <section class="panel" id="ring-panel"><h2>Ring</h2><svg id="ring" viewBox="0 0 240 240" role="img" aria-label="the hash ring, an arc per node"></svg><div id="ring-legend" class="legend"></div><p id="ring-note" class="note"></p></section>
  <section class="panel" id="nodes-panel"><h2>Nodes</h2><input id="filter" placeholder="filter by id" aria-label="filter nodes by id"><div id="hist"></div><div id="nodes"></div><p id="nodes-more" class="note"></p></section>
  <section class="panel" id="moves-panel"><h2>Moves in flight</h2><div id="flows"></div><p id="flows-more" class="note"></p><h3>Arrivals at receivers</h3><div id="arrivals"></div></section>
  <section class="panel" id="drains-panel"><h2>Drains and deploys</h2><div id="drains"></div></section>
  <section class="panel" id="epochs-panel"><h2>Epochs</h2><div id="epochs"></div></section>
  <section class="panel" id="store-panel"><h2>Store health</h2><div id="store"></div></section>
  <section class="panel wide" id="preview-panel"><h2>Preview a change on the live fleet</h2>
    <form id="preview-form" class="row">
      <label>change <select id="pv-kind"><option value="add">add</option><option value="remove">remove</option><option value="drain">drain</option><option value="reweight">re-weight</option><option value="handoff">handoff</option></select></label>
      <label>node ids <input id="pv-ids" placeholder="n5 or n1,n2" required></label>
      <label>weight <input id="pv-weight" type="number" step="any" min="0" placeholder="1"></label>
      <label id="pv-to-label">new node (handoff) <input id="pv-to" placeholder="n9"></label>
      <label class="check"><input type="checkbox" id="pv-users"> list user ids</label>
      <button type="submit" id="pv-go">Preview</button>
    </form>
    <p class="note">Read-only: every agent answers from its own connections how many users would move and where; nothing changes.</p>
    <div id="preview-out"></div>
  </section>
</main>
`;

/** The page, for an agent whose endpoints sit under `prefix`. */
export function fleetPageHtml(prefix: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<link rel="icon" href="data:,"><title>wsring fleet</title><style>${CSS}</style></head>
<body data-prefix="${escapeAttr(prefix)}">${BODY.replace('__PREFIX__', escapeAttr(prefix))}<script>${SCRIPT}</script></body></html>`;
}

const LOGIN_CSS = String.raw`
body { margin:0; font:15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:#f6f7f9; color:#1d2330; display:grid; place-items:center; min-height:100vh; }
form { background:#fff; border:1px solid #e3e6eb; border-radius:10px; padding:1.5rem; width:min(92vw, 360px); display:flex; flex-direction:column; gap:.75rem; }
h1 { font-size:1.1rem; margin:0; }
input, button { font:inherit; padding:.5rem .6rem; border:1px solid #d0d5dd; border-radius:6px; }
button { background:#3056d3; color:#fff; border-color:#3056d3; cursor:pointer; }
p { margin:0; color:#667085; font-size:.85rem; }
p.error { color:#b42318; }
`;

const escapeText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The login form the page answers with until the browser holds a session. */
export function loginPageHtml(prefix: string, error: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<link rel="icon" href="data:,"><title>wsring fleet: log in</title><style>${LOGIN_CSS}</style></head>
<body><form method="post" action="${escapeAttr(prefix)}/fleet/login" id="login">
<h1>wsring fleet</h1>
<p>Admins only: the admin token of this fleet, or a JWT with the admin role.</p>
${error ? `<p class="error" id="login-error">${escapeText(error)}</p>` : ''}
<input type="password" name="token" id="token" autocomplete="current-password" aria-label="admin token" required autofocus>
<button type="submit">Log in</button>
</form></body></html>`;
}

// The trainbus dashboard: one page on the gateway's own endpoints
// (gateway/README.md). Charts are Debian's Chart.js, served by the gateway.
// window.tbState is what the page has seen, for scripts and tests.
'use strict';

const token = new URLSearchParams(location.search).get('token');
const CLASSES = ['T-shirt', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal',
                 'Shirt', 'Sneaker', 'Bag', 'Boot'];
const COLORS = ['#1565c0', '#c62828', '#2e7d32', '#ef6c00', '#6a1b9a',
                '#00838f', '#ad1457', '#4e342e', '#283593', '#9e9d24'];
const state = window.tbState = {
  curves: {},        // model -> [{samples, step, test, preq}]
  streamEvents: 0,
  topologyPolls: 0,
  nodeIds: [],
  feedbackSent: [],  // {prediction, label, offset}
};

function withToken(url) {
  if (!token) return url;
  return url + (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token);
}

async function api(path, options = {}) {
  options.headers = Object.assign({}, options.headers || {});
  if (token) options.headers['Authorization'] = 'Bearer ' + token;
  const response = await fetch(path, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg(tag, attrs = {}, text) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmt(x, digits = 3) {
  if (typeof x !== 'number') return x === undefined ? '' : String(x);
  if (Number.isInteger(x)) return String(x);
  return x.toFixed(digits);
}

// ---- Run header ----

async function refreshRun() {
  const run = await api('/v1/run');
  document.getElementById('run-name').textContent = run.name || '';
  const st = document.getElementById('run-state');
  st.textContent = run.state;
  st.className = 'state ' + String(run.state).split(':')[0];
  document.getElementById('run-summary').textContent =
      `${(run.models || []).length} models, ${run.metric_points} metric points, ` +
      `${run.predictions} predictions`;
}

// ---- Accuracy curves ----

let chart = null;

function smooth(points, weight) {
  // TensorBoard's exponential moving average, debiased at the start.
  let last = 0, n = 0;
  return points.map(p => {
    last = last * weight + (1 - weight) * p.y;
    n += 1;
    const debias = weight === 0 ? 1 : 1 - Math.pow(weight, n);
    return {x: p.x, y: last / debias};
  });
}

function buildDatasets() {
  const weight = Number(document.getElementById('smoothing').value);
  const datasets = [];
  Object.keys(state.curves).sort().forEach((model, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = state.curves[model];
    for (const [key, label, dash] of [['test', 'held-out', []],
                                      ['preq', 'prequential', [5, 4]]]) {
      datasets.push({
        label: `${model} ${label}`,
        data: smooth(pts.map(p => ({x: p.samples, y: p[key]})), weight),
        borderColor: color, backgroundColor: color, borderDash: dash,
        borderWidth: 1.5, pointRadius: 0, pointHitRadius: 6, tension: 0,
      });
    }
  });
  return datasets;
}

function redrawCurves() {
  if (!chart) {
    chart = new Chart(document.getElementById('curves'), {
      type: 'line',
      data: {datasets: buildDatasets()},
      options: {
        animation: false, parsing: false, maintainAspectRatio: false,
        interaction: {mode: 'nearest', axis: 'x', intersect: false},
        scales: {
          x: {type: 'linear', title: {display: true, text: 'samples trained'}},
          y: {min: 0, max: 1, title: {display: true, text: 'accuracy'}},
        },
        plugins: {tooltip: {callbacks: {
          label: c => `${c.dataset.label}: ${c.parsed.y.toFixed(4)} at ${c.parsed.x}`,
        }}},
      },
    });
    return;
  }
  chart.data.datasets = buildDatasets();
  chart.update('none');
}

let redrawPending = false;
function scheduleRedraw() {
  if (redrawPending) return;
  redrawPending = true;
  setTimeout(() => { redrawPending = false; redrawCurves(); }, 250);
}

function addPoint(p) {
  if (p.split !== 'test' || !p.values) return;
  const v = p.values;
  (state.curves[p.model] = state.curves[p.model] || []).push({
    step: p.step, samples: v.samples !== undefined ? v.samples : p.step,
    test: v.test_accuracy, preq: v.prequential_accuracy,
  });
}

async function startCurves() {
  const history = await api('/v1/metrics/history');
  history.points.forEach(addPoint);
  redrawCurves();
  const source = new EventSource(withToken('/v1/metrics/stream?from=' + history.next));
  source.onmessage = e => {
    state.streamEvents += 1;
    addPoint(JSON.parse(e.data));
    scheduleRedraw();
  };
  const slider = document.getElementById('smoothing');
  slider.oninput = () => {
    document.getElementById('smoothing-value').textContent = Number(slider.value).toFixed(2);
    redrawCurves();
  };
}

// ---- Topology graph ----

const NODE_W = 170, NODE_H = 46, COL_GAP = 90, ROW_GAP = 26;
const KIND_ORDER = {source: 0, resource: 1, model: 2, consumer: 3};

// Columns by longest path from the roots (edges into already-placed nodes
// in a cycle are ignored), rows in order of appearance.
function layout(graph) {
  const depth = {};
  graph.nodes.forEach(n => { depth[n.id] = 0; });
  for (let pass = 0; pass < graph.nodes.length; pass++) {
    let changed = false;
    for (const e of graph.edges) {
      if (!(e.from in depth) || !(e.to in depth)) continue;
      if (depth[e.to] < depth[e.from] + 1 && depth[e.from] + 1 < graph.nodes.length) {
        depth[e.to] = depth[e.from] + 1;
        changed = true;
      }
    }
    if (!changed) break;
  }
  const columns = {};
  graph.nodes.forEach(n => { (columns[depth[n.id]] = columns[depth[n.id]] || []).push(n); });
  const pos = {};
  let height = 0;
  Object.keys(columns).map(Number).sort((a, b) => a - b).forEach((c, ci) => {
    columns[c].sort((a, b) => (KIND_ORDER[a.kind] || 0) - (KIND_ORDER[b.kind] || 0));
    columns[c].forEach((n, r) => {
      pos[n.id] = {x: 10 + ci * (NODE_W + COL_GAP), y: 10 + r * (NODE_H + ROW_GAP)};
      height = Math.max(height, pos[n.id].y + NODE_H + 10);
    });
  });
  const width = 20 + Object.keys(columns).length * (NODE_W + COL_GAP);
  return {pos, width, height};
}

function liveIndex(resources) {
  const byResource = {}, bySub = {};
  for (const r of resources || []) {
    byResource[r.name] = r;
    for (const s of r.subscriptions) bySub[r.name + '\u0000' + s.name] = s;
  }
  return {byResource, bySub};
}

function drawTopology(topo) {
  const graph = topo.graph;
  const {pos, width, height} = layout(graph);
  const live = liveIndex(topo.resources);
  // A placed run's nodes: "@worker2 (lost)" on each component of a node
  // that is not connected.
  const nodeState = Object.fromEntries((topo.nodes || []).map(n => [n.name, n.state]));
  const where = group => !group ? '' :
      ' @' + group + (nodeState[group] && nodeState[group] !== 'connected'
                      ? ` (${nodeState[group]})` : '');
  const root = svg('svg', {viewBox: `0 0 ${width} ${height}`, height: height});
  root.appendChild(svg('defs')).appendChild(
      svg('marker', {id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5,
                     markerWidth: 6, markerHeight: 6, orient: 'auto'}))
      .appendChild(svg('path', {d: 'M0,0 L10,5 L0,10 z', fill: '#78909c'}));
  for (const e of graph.edges) {
    const a = pos[e.from], b = pos[e.to];
    if (!a || !b) continue;
    const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2;
    const g = root.appendChild(svg('g', {'class': 'edge', 'data-from': e.from, 'data-to': e.to}));
    g.appendChild(svg('title', {}, `${e.from} -> ${e.to}`));
    const mx = (x1 + x2) / 2;
    g.appendChild(svg('path', {d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`,
                               'marker-end': 'url(#arrow)'}));
    let label = e.label || '';
    if (e.subscription) {
      const s = live.bySub[e.subscription.resource + '\u0000' + e.subscription.name];
      if (s) {
        label += (label ? ' ' : '') + `${fmt(s.rate, 0)}/s`;
        if (s.queue_depth) label += ` q${s.queue_depth}`;
        if (s.dropped) label += ` drop ${s.dropped}`;
      }
    }
    if (label) {
      g.appendChild(svg('text', {x: mx, y: (y1 + y2) / 2 - 3, 'text-anchor': 'middle'}, label));
    }
  }
  for (const n of graph.nodes) {
    const p = pos[n.id];
    const g = root.appendChild(svg('g', {'class': 'node ' + n.kind, 'data-id': n.id,
                                         transform: `translate(${p.x},${p.y})`}));
    g.appendChild(svg('title', {}, n.id));
    g.appendChild(svg('rect', {width: NODE_W, height: NODE_H}));
    g.appendChild(svg('text', {x: 6, y: 14, 'class': 'title'},
                      (n.kind === 'resource' ? '[' + n.title + ']' : n.title) +
                      where(n.group)));
    g.appendChild(svg('text', {x: 6, y: 27}, (n.subtitle || '').slice(0, 30)));
    if (n.kind === 'resource') {
      const r = live.byResource[n.title];
      if (r) {
        g.appendChild(svg('text', {x: 6, y: 40, 'class': 'live'},
            `${fmt(r.rate, 0)}/s q${r.queue_depth} drops ${r.dropped} (${r.published})`));
      }
    }
  }
  const box = document.getElementById('topology');
  box.replaceChildren(root);
  state.nodeIds = graph.nodes.map(n => n.id);
}

async function refreshTopology() {
  drawTopology(await api('/v1/topology'));
  state.topologyPolls += 1;
}

// ---- Leaderboard and tasks ----

let sortKey = 'test_accuracy', sortDesc = true;

function leaderboardRows(board) {
  const rows = board.live.map(m => Object.assign(
      {source: 'this run', name: m.name, version: '', step: m.step}, m.values));
  for (const m of board.models) {
    rows.push(Object.assign({source: m.project, name: m.name, version: m.version,
                             aliases: (m.aliases || []).join(' ')}, m.values));
  }
  return rows;
}

async function refreshLeaderboard() {
  const board = await api('/v1/leaderboard?sort=' + encodeURIComponent(sortKey) +
                          '&order=' + (sortDesc ? 'desc' : 'asc'));
  const rows = leaderboardRows(board);
  const keys = ['source', 'name', 'version'];
  for (const r of rows) for (const k of Object.keys(r)) if (!keys.includes(k)) keys.push(k);
  rows.sort((a, b) => {
    const x = a[sortKey], y = b[sortKey];
    if (x === y) return 0;
    if (x === undefined) return 1;
    if (y === undefined) return -1;
    return (x < y ? -1 : 1) * (sortDesc ? -1 : 1);
  });
  const table = document.getElementById('leaderboard');
  const head = el('tr');
  for (const k of keys) {
    const th = head.appendChild(el('th', {'class': k === sortKey ? 'sorted' : ''},
                                   k + (k === sortKey ? (sortDesc ? ' ▼' : ' ▲') : '')));
    th.onclick = () => {
      sortDesc = k === sortKey ? !sortDesc : true;
      sortKey = k;
      refreshLeaderboard();
    };
  }
  table.tHead.replaceChildren(head);
  table.tBodies[0].replaceChildren(...rows.map(r => {
    const tr = el('tr');
    for (const k of keys) tr.appendChild(el('td', {}, fmt(r[k], 4)));
    return tr;
  }));
}

async function refreshTasks() {
  const t = await api('/v1/tasks');
  document.getElementById('task-counts').textContent =
      Object.entries(t.counts).map(([k, v]) => `${k}: ${v}`).join('  ');
  document.querySelector('#tasks tbody').replaceChildren(...t.tasks.slice(-50).map(x => {
    const tr = el('tr');
    for (const v of [x.id, x.name, x.state, x.attempts, x.runner]) tr.appendChild(el('td', {}, fmt(v)));
    return tr;
  }));
}

// ---- Serving ----

async function refreshServing() {
  const s = await api('/v1/serving');
  const box = document.getElementById('serving');
  if (!s.models || s.models.length === 0) {
    box.textContent = s.note || 'nothing served';
    return;
  }
  const table = el('table');
  table.appendChild(el('tr')).append(...['model', 'versions', 'labels', 'req/s', 'p99 ms', 'swaps']
      .map(h => el('th', {}, h)));
  for (const m of s.models) {
    const tr = table.appendChild(el('tr'));
    for (const v of [m.name, (m.versions || []).map(v => v.version + ' ' + v.state).join(', '),
                     Object.entries(m.labels || {}).map(([k, v]) => `${k}=${v}`).join(' '),
                     fmt(m.requests_per_second, 1), fmt(m.p99_ms, 1), m.swaps]) {
      tr.appendChild(el('td', {}, fmt(v)));
    }
  }
  const events = el('div', {}, 'last changes: ' + (s.events || []).slice(-5).join(' | '));
  box.replaceChildren(table, events);
}

// ---- Recent predictions and feedback ----

const shown = new Set();

async function sendFeedback(card, p, label) {
  const status = document.getElementById('feedback-status');
  try {
    const r = await api(`/v1/predictions/${p.id}:feedback`, {
      method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({label}),
    });
    card.classList.add('sent');
    state.feedbackSent.push({prediction: p.id, label, offset: r.offset});
    status.textContent = `prediction ${p.id} labelled ${label} (${CLASSES[label] || label}): ` +
                         `[${r.resource}] offset ${r.offset}`;
  } catch (err) {
    status.textContent = 'feedback failed: ' + err.message;
  }
}

function predictionCard(p) {
  const card = el('div', {'class': 'prediction', 'data-prediction': p.id});
  if (p.png_b64) card.appendChild(el('img', {src: 'data:image/png;base64,' + p.png_b64, alt: 'sample'}));
  card.appendChild(el('div', {'class': 'predicted-label'},
                      `${p.model}: ${p.label} ${CLASSES[p.label] || ''}`));
  card.appendChild(el('div', {}, p.origin || `${p.source}#${p.sample_seq}`));
  const classes = card.appendChild(el('div', {'class': 'classes'}));
  const n = (p.scores || []).length || 10;
  for (let c = 0; c < n; c++) {
    const b = classes.appendChild(el('button', {'class': c === p.label ? 'predicted' : '',
                                                'data-class': c, title: CLASSES[c] || ''}, String(c)));
    b.onclick = () => sendFeedback(card, p, c);
  }
  return card;
}

async function refreshPredictions() {
  const r = await api('/v1/predictions/recent?limit=24');
  const box = document.getElementById('predictions');
  if (r.predictions.length === 0) {
    box.textContent = 'no predictions yet (a spec with production traffic, e.g. ' +
                      'production_routing, shows them here)';
    return;
  }
  if (shown.size === 0) box.textContent = '';
  for (const p of r.predictions.slice().reverse()) {
    if (shown.has(p.id) || !p.png_b64) continue;
    shown.add(p.id);
    box.prepend(predictionCard(p));
  }
  while (box.children.length > 24) box.lastChild.remove();
}

// ---- Polling ----

function every(ms, fn) {
  const run = () => fn().catch(err => console.warn(err.message));
  run();
  setInterval(run, ms);
}

startCurves().catch(err => console.warn(err.message));
every(1000, refreshRun);
every(1000, refreshTopology);
every(3000, refreshLeaderboard);
every(5000, refreshTasks);
every(2000, refreshServing);
every(1500, refreshPredictions);

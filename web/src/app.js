// SPDX-License-Identifier: Apache-2.0
// capsuled's dashboard: one page, three views (#/ the host and its domains, #/domain/NAME,
// #/events), on capsuled's public REST API (proxied by the dashboard's listener after
// login) and its streams as WebSockets (/ws/events, /ws/console). uPlot and xterm.js come
// from npm (web/package.json) and are served by capsuled: nothing is fetched elsewhere.
'use strict';

const S = {
  csrf: null,
  domains: [],
  events: [],
  cleanup: [],    // what the current view must stop when it goes
  started: {},    // domain name -> started_at (from domain.info)
  plots: {},      // the domain view's charts, for the tests: name -> {u, points}
  term: null,
  evws: null,
};
window.capsuleDash = S;

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
};

function toast(text, bad) {
  const t = $('#toast');
  t.textContent = text;
  t.className = 'show' + (bad ? ' error' : '');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.className = ''; }, 3500);
}

// One API call: the JSON answer, or an Error with capsuled's sentence.
async function api(method, path, body) {
  const opt = { method, headers: {}, credentials: 'same-origin' };
  if (method !== 'GET') opt.headers['X-CSRF-Token'] = S.csrf;
  if (body !== undefined) {
    opt.headers['Content-Type'] = 'application/json';
    opt.body = JSON.stringify(body);
  }
  const r = await fetch(path, opt);
  if (r.status === 401) {
    location.replace('/');
    throw new Error('logged out');
  }
  const text = await r.text();
  let data = text;
  try { data = JSON.parse(text); } catch (e) { /* text (metrics) */ }
  if (!r.ok) throw new Error((data && data.error) || r.statusText);
  return data;
}

// ---- Prometheus text (GET /metrics) into [{name, labels, value}]
function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

// ---- xl's state column
const LETTERS = { running: 'r-----', paused: '--p---', shutoff: '---s--', crashed: '----c-', dying: '-----d' };
function fmtUptime(s) {
  if (s === undefined || s < 0) return '';
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  return (d ? d + 'd ' : '') + String(h).padStart(2, '0') + ':' + String(m).padStart(2, '0') +
    ':' + String(Math.floor(s % 60)).padStart(2, '0');
}
const live = (d) => d.state === 'running' || d.state === 'paused';

// ---- confirmation (a <dialog>): resolves to true, or what was typed (input: {type,
// value, unit}), or false
function confirmAction(text, input) {
  const dlg = $('#confirm'), field = $('#confirm-input');
  $('#confirm-text').textContent = text;
  $('#confirm-input-row').hidden = !input;
  if (input) {
    field.type = input.type;
    field.value = input.value;
    $('#confirm-unit').textContent = input.unit || '';
  }
  dlg.returnValue = '';
  dlg.showModal();
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => {
      if (dlg.returnValue !== 'ok') resolve(false);
      else if (!input) resolve(true);
      else resolve(input.type === 'number' ? Number(field.value) : field.value.trim());
    }, { once: true });
  });
}

const ACTIONS = {
  pause: { label: 'Pause', path: 'domain.pause', when: (d) => d.state === 'running' },
  unpause: { label: 'Resume', path: 'domain.unpause', when: (d) => d.state === 'paused' },
  shutdown: { label: 'Shutdown', path: 'domain.shutdown', when: live, confirm: 'Shut down' },
  reboot: { label: 'Reboot', path: 'domain.reboot', when: live, confirm: 'Reboot' },
  memset: { label: 'Balloon', path: 'domain.mem-set', when: live, number: true },
  snapshot: { label: 'Snapshot', path: 'domain.snapshot', when: live, dir: 'runs on' },
  save: { label: 'Save', path: 'domain.save', when: live, dir: 'ends once saved' },
  destroy: { label: 'Destroy', path: 'domain.destroy', when: () => true, confirm: 'Destroy',
    danger: true },
};

async function act(name, d) {
  const a = ACTIONS[name];
  let body;
  if (a.number) {
    const mib = await confirmAction(`Balloon target of ${d.name}:`,
      { type: 'number', value: d.memory_mib, unit: 'MiB' });
    if (mib === false) return;
    body = { target_mib: mib };
  } else if (a.dir) {
    // A directory on the host, written by capsuled (docs/snapshot.md: DIR/state, DIR/memory).
    const dir = await confirmAction(`${a.label} ${d.name} into a directory on the host (the ` +
      `domain ${a.dir}):`, { type: 'text', value: `/var/lib/capsule/snapshots/${d.name}` });
    if (!dir) return;
    body = { dir };
  } else if (a.confirm) {
    const what = name === 'destroy' ? ' It ends at once and its record, files and history go.' : '';
    if (!await confirmAction(`${a.confirm} ${d.name}?${what}`)) return;
  }
  try {
    await api('PUT', `/api/v1/${a.path}?domain=${encodeURIComponent(d.name)}`, body);
    if (a.dir) S.lastSnapshot = body.dir;
    toast(`${a.label}: ${d.name}`);
  } catch (e) {
    toast(`${a.label} ${d.name}: ${e.message}`, true);
  }
  if (name === 'destroy' && location.hash.startsWith('#/domain/')) location.hash = '#/';
  refresh();
}

function actionButtons(d) {
  return Object.entries(ACTIONS).map(([name, a]) =>
    el('button', { class: a.danger ? 'danger' : '', 'data-action': name,
      disabled: !a.when(d), onclick: () => act(name, d) }, a.label));
}

// ---- the host view: summary cards and the domain list
async function hostSummary(box) {
  const [info, text] = await Promise.all([api('GET', '/api/v1/daemon.info'),
    api('GET', '/metrics')]);
  const m = parseMetrics(text);
  const get = (n) => m.filter((x) => x.name === n);
  const hostMem = (get('capsule_host_memory_bytes')[0] || {}).value || 0;
  const byState = Object.fromEntries(get('capsuled_domains').map((x) => [x.labels.state, x.value]));
  const cpu = get('capsule_domain_cpu_seconds_total').reduce((a, x) => a + x.value, 0);
  const now = performance.now() / 1000;
  const prev = hostSummary.prev;
  const cpuPct = prev ? (100 * (cpu - prev.cpu) / (now - prev.t)) : 0;
  hostSummary.prev = { cpu, t: now };
  const assigned = S.domains.filter(live).reduce((a, d) => a + d.memory_mib, 0);
  const ksm = get('capsule_ksm_saved_bytes')[0];
  $('#host-name').textContent = `capsuled ${info.version}, pid ${info.pid}`;
  const card = (k, v) => el('div', { class: 'card' }, el('div', { class: 'v' }, v), el('div', { class: 'k' }, k));
  box.replaceChildren(
    card('domains', info.domains),
    card('running / paused', `${byState.running || 0} / ${byState.paused || 0}`),
    card('shut off / crashed', `${byState.shutoff || 0} / ${byState.crashed || 0}`),
    card('domains\' CPU', `${cpuPct.toFixed(1)} %`),
    card('memory assigned', `${assigned} of ${Math.round(hostMem / 2 ** 20)} MiB`),
    card('capsuled RSS', `${Math.round(info.rss_kib / 1024)} MiB`),
    ...(ksm ? [card('KSM saved', `${Math.round(ksm.value / 2 ** 20)} MiB`)] : []),
  );
}

function domainTable() {
  const now = Date.now() / 1000;
  const rows = S.domains.map((d) => el('tr', { class: d.state, 'data-domain': d.name },
    el('td', {}, el('a', { href: `#/domain/${encodeURIComponent(d.name)}` }, d.name)),
    el('td', { class: 'num' }, d.id),
    el('td', { class: 'num' }, d.memory_mib),
    el('td', { class: 'num' }, d.vcpus),
    el('td', { class: 'state', title: d.state }, LETTERS[d.state] || d.state),
    el('td', { class: 'num' }, d.cpu_time_s.toFixed(1)),
    el('td', { class: 'num' }, live(d) && S.started[d.name] ? fmtUptime(now - S.started[d.name]) : ''),
    el('td', {}, d.type),
    el('td', { class: 'actions' }, actionButtons(d))));
  return el('table', { id: 'domains' },
    el('thead', {}, el('tr', {}, ['Name', 'ID', 'Mem (MiB)', 'VCPUs', 'State', 'Time(s)', 'Uptime',
      'Type', 'Actions'].map((h, i) => el('th', { class: i && i < 7 ? 'num' : '' }, h)))),
    el('tbody', {}, rows));
}

async function loadDomains() {
  S.domains = (await api('GET', '/api/v1/domains')).domains;
  // started_at is in domain.info only: once per domain (it changes on a restart).
  await Promise.all(S.domains.filter((d) => live(d) && !(d.name in S.started)).map(async (d) => {
    try { S.started[d.name] = (await api('GET', `/api/v1/domain.info?domain=${d.id}`)).started_at; } catch (e) { /* gone */ }
  }));
}

function every(ms, fn) {
  let stop = false, timer;
  const run = async () => {
    try { await fn(); } catch (e) { if (e.message !== 'logged out') console.warn(e); }
    if (!stop) timer = setTimeout(run, ms);
  };
  run();
  S.cleanup.push(() => { stop = true; clearTimeout(timer); });
}

let refresh = () => {};

function viewHost(main) {
  const cards = el('div', { class: 'cards', id: 'host' });
  const list = el('div', { id: 'domain-list' });
  const restore = el('button', { id: 'restore', onclick: async () => {
    const dir = await confirmAction('Restore a domain from a snapshot directory on the host:',
      { type: 'text', value: S.lastSnapshot || '/var/lib/capsule/snapshots/' });
    if (!dir) return;
    const name = await confirmAction('Name of the restored domain (empty: the snapshot\'s own, ' +
      'if no domain has it):', { type: 'text', value: '' });
    if (name === false) return;
    try {
      const r = await api('POST', '/api/v1/domain.restore', name ? { dir, name } : { dir });
      toast(`Restored ${(r && r.name) || dir}`);
    } catch (e) {
      toast(`Restore ${dir}: ${e.message}`, true);
    }
    refresh();
  } }, 'Restore a snapshot...');
  const clone = el('button', { id: 'clone', onclick: async () => {
    const dir = await confirmAction('Clone domains from a snapshot directory on the host:',
      { type: 'text', value: S.lastSnapshot || '/var/lib/capsule/snapshots/' });
    if (!dir) return;
    const count = await confirmAction('How many clones?', { type: 'number', value: 1 });
    if (count === false) return;
    const prefix = await confirmAction('Their names: PREFIX-1, PREFIX-2... (empty: the ' +
      'directory\'s name):', { type: 'text', value: '' });
    if (prefix === false) return;
    try {
      await api('POST', '/api/v1/domain.clone', prefix ? { dir, count, name_prefix: prefix } : { dir, count });
      toast(`Cloned ${count} from ${dir}`);
    } catch (e) {
      toast(`Clone ${dir}: ${e.message}`, true);
    }
    refresh();
  } }, 'Clone a snapshot...');
  main.replaceChildren(el('h2', {}, 'Host'), cards, el('h2', {}, 'Domains ', restore, clone), list);
  refresh = async () => {
    await loadDomains();
    list.replaceChildren(S.domains.length ? domainTable() : el('p', { class: 'muted' }, 'No domains: capsule create CONFIG'));
  };
  every(2000, refresh);
  every(2000, () => hostSummary(cards));
}

// ---- the domain view: live plots from /metrics every second, and the console
const WINDOW = 120; // points kept (seconds)

function makePlot(box, id, title, unit) {
  const div = el('div', { class: 'plot', id: `plot-${id}` }, el('h3', {}, title));
  box.append(div);
  const p = { div, u: null, keys: [], data: [[]], points: 0, unit };
  S.plots[id] = p;
  return p;
}

// Add one sample {series: value} at time t (s), (re)making the chart when series appear.
function plotPush(p, t, values) {
  const keys = Object.keys(values).sort();
  if (keys.join() !== p.keys.join()) {
    const old = p.keys;
    p.data = [p.data[0], ...keys.map((k) => {
      const i = old.indexOf(k);
      return i >= 0 ? p.data[i + 1] : p.data[0].map(() => null);
    })];
    p.keys = keys;
    if (p.u) p.u.destroy();
    const colors = ['#1f6feb', '#cf222e', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#0a7ea4', '#6e7781'];
    p.u = new uPlot({
      width: Math.max(420, p.div.clientWidth - 16), height: 200,
      scales: { x: { time: true } },
      axes: [{}, { label: p.unit, size: 60 }],
      series: [{}, ...keys.map((k, i) => ({ label: k, stroke: colors[i % colors.length], width: 1.5 }))],
    }, p.data, p.div);
  }
  p.data[0].push(t);
  keys.forEach((k, i) => p.data[i + 1].push(values[k]));
  if (p.data[0].length > WINDOW) p.data.forEach((a) => a.shift());
  p.points++;
  p.u.setData(p.data);
}

function viewDomain(main, name) {
  const head = el('div', { id: 'domain-head' });
  const plots = el('div', { class: 'plots' });
  const con = el('div', { id: 'console' });
  main.replaceChildren(el('h2', {}, 'Domain ', el('span', { id: 'domain-name' }, name)), head,
    el('h2', {}, 'Live'), plots, el('h2', {}, 'Console'), con);
  S.plots = {};
  const cpu = makePlot(plots, 'cpu', 'CPU (% of one host CPU): the VMM, and each vCPU', '%');
  const exits = makePlot(plots, 'exits', 'Exits per second, by vCPU', '/s');
  const reasons = makePlot(plots, 'reasons', 'Exits per second, by reason', '/s');
  const hcalls = makePlot(plots, 'hypercalls', 'Hypercalls per second, by number', '/s');
  const io = makePlot(plots, 'io', 'Device requests per second (block, net, console...)', '/s');
  const mem = makePlot(plots, 'memory', 'Memory (MiB)', 'MiB');
  let prev = null;

  refresh = async () => {
    const d = await api('GET', `/api/v1/domain.info?domain=${encodeURIComponent(name)}`);
    head.replaceChildren(el('table', { id: 'domain-info' }, el('tbody', {},
      el('tr', { class: d.state }, el('th', {}, 'State'), el('td', { class: 'state' }, `${LETTERS[d.state] || ''} ${d.state}`),
        el('th', {}, 'ID'), el('td', {}, d.id), el('th', {}, 'Type'), el('td', {}, d.type)),
      el('tr', {}, el('th', {}, 'Memory'), el('td', {}, `${d.memory_mib} MiB`),
        el('th', {}, 'VCPUs'), el('td', {}, d.vcpus), el('th', {}, 'Uptime'),
        el('td', {}, live(d) ? fmtUptime(d.uptime_s) : '')),
      el('tr', {}, el('th', {}, 'UUID'), el('td', { colspan: 3 }, d.uuid),
        el('th', {}, 'Actions'), el('td', { class: 'actions' }, actionButtons(d))))));
  };
  every(2000, refresh);

  every(1000, async () => {
    const m = parseMetrics(await api('GET', '/metrics')).filter((x) => x.labels.domain === name);
    const t = Date.now() / 1000;
    const sum = (n, key) => {
      const o = {};
      for (const x of m.filter((y) => y.name === n)) {
        const k = key(x.labels);
        o[k] = (o[k] || 0) + x.value;
      }
      return o;
    };
    const cur = {
      t,
      cpu: Object.assign(sum('capsule_domain_cpu_seconds_total', () => 'VMM'),
        sum('capsule_vcpu_cpu_seconds_total', (l) => 'vCPU ' + l.vcpu)),
      exits: sum('capsule_vcpu_exits_total', (l) => 'vCPU ' + l.vcpu),
      reasons: sum('capsule_vcpu_exits_by_reason_total', (l) => l.reason),
      hcalls: sum('capsule_hypercalls_total', (l) => 'nr ' + l.nr),
      io: sum('capsule_device_requests_total', (l) => l.device),
      mem: Object.assign(sum('capsule_memory_bytes', () => 'guest'),
        sum('capsule_balloon_target_bytes', () => 'balloon target'),
        sum('capsule_balloon_actual_bytes', () => 'balloon actual')),
    };
    if (prev) {
      const dt = t - prev.t;
      const rate = (a, b, scale = 1) => Object.fromEntries(Object.keys(a).map((k) =>
        [k, Math.max(0, (a[k] - (b[k] || 0)) / dt * scale)]));
      plotPush(cpu, t, rate(cur.cpu, prev.cpu, 100));
      plotPush(exits, t, rate(cur.exits, prev.exits));
      plotPush(reasons, t, Object.keys(cur.reasons).length ? rate(cur.reasons, prev.reasons)
        : { none: 0 });
      plotPush(hcalls, t, rate(cur.hcalls, prev.hcalls));
      plotPush(io, t, Object.keys(cur.io).length ? rate(cur.io, prev.io) : { none: 0 });
      plotPush(mem, t, Object.fromEntries(Object.entries(cur.mem).map(([k, v]) => [k, v / 2 ** 20])));
    }
    prev = cur;
  });

  openConsole(con, name);
}

const wsScheme = () => (location.protocol === 'https:' ? 'wss:' : 'ws:');

function openConsole(box, name) {
  const term = new Terminal({ convertEol: true, fontSize: 13, rows: 20, scrollback: 5000,
    theme: { background: '#000000' } });
  term.open(box);
  S.term = term;
  const ws = new WebSocket(`${wsScheme()}//${location.host}/ws/console?domain=${encodeURIComponent(name)}`);
  const dec = new TextDecoder();
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.b64) {
      const bin = atob(msg.b64);
      const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
      term.write(dec.decode(bytes, { stream: true }));
    } else if (msg.end) {
      term.write(`\r\n\x1b[2m[the domain is ${msg.end}]\x1b[0m\r\n`);
    } else if (msg.error) {
      term.write(`\r\n\x1b[31m[${msg.error}]\x1b[0m\r\n`);
    }
  };
  ws.onclose = () => term.write('\r\n\x1b[2m[console closed]\x1b[0m\r\n');
  // Enter is CR from a terminal; the guest's console reads lines (as a tty's ICRNL would).
  const input = term.onData((data) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(data.replace(/\r/g, '\n'));
  });
  S.cleanup.push(() => { input.dispose(); ws.close(); term.dispose(); S.term = null; });
}

// ---- the event log (and the list's prompt refresh), from /ws/events
function eventsSocket() {
  const ws = new WebSocket(`${wsScheme()}//${location.host}/ws/events`);
  S.evws = ws;
  ws.onmessage = (ev) => {
    const e = JSON.parse(ev.data);
    if (!e.event) return;
    S.events.push(e);
    if (S.events.length > 1000) S.events.shift();
    if (S.onEvent) S.onEvent(e);
    clearTimeout(eventsSocket.timer);
    eventsSocket.timer = setTimeout(() => refresh(), 100); // a burst: one refresh
  };
  ws.onclose = () => setTimeout(eventsSocket, 2000);
}

function eventRow(e) {
  const t = new Date(e.time_ns / 1e6);
  return el('tr', {}, el('td', {}, t.toLocaleString()), el('td', {}, e.domain),
    el('td', {}, e.event), el('td', {}, e.detail || ''), el('td', { class: 'num' }, e.uid));
}

function viewEvents(main) {
  const body = el('tbody', {}, S.events.slice().reverse().map(eventRow));
  main.replaceChildren(el('h2', {}, 'Events'), el('table', { id: 'events' },
    el('thead', {}, el('tr', {}, ['Time', 'Domain', 'Event', 'Detail', 'uid'].map((h) => el('th', {}, h)))),
    body));
  S.onEvent = (e) => body.prepend(eventRow(e));
  S.cleanup.push(() => { S.onEvent = null; });
  refresh = async () => {};
}

function route() {
  S.cleanup.splice(0).forEach((f) => f());
  const main = $('#view');
  const h = location.hash || '#/';
  if (h.startsWith('#/domain/')) viewDomain(main, decodeURIComponent(h.slice(9)));
  else if (h === '#/events') viewEvents(main);
  else viewHost(main);
}

async function start() {
  try {
    S.csrf = (await api('GET', '/session')).csrf;
  } catch (e) {
    return;
  }
  $('#logout').addEventListener('click', async () => {
    await api('POST', '/logout').catch(() => {});
    location.replace('/');
  });
  window.addEventListener('hashchange', route);
  eventsSocket();
  route();
}

start();

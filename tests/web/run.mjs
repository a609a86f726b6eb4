#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// The web dashboard in a real browser: headless Chromium (Debian's), driven by
// puppeteer-core (web/package.json), against a real capsuled with real PV domains, all
// under a temporary directory (never /run/capsule or /var/lib/capsule).
//
//   node tests/web/run.mjs BUILD      (make check-web)
//
// Prints PASS/FAIL lines and "N passed, N failed"; exit 1 if any failed. Screenshots of
// every page go to BUILD/web-test/.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILD = resolve(process.argv[2] || join(root, 'build'));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = join(BUILD, 'web-test');
const { default: puppeteer } = await import(pathToFileURL(
  join(root, 'web', 'node_modules', 'puppeteer-core', 'lib', 'puppeteer', 'puppeteer-core.js')));

let passed = 0, failed = 0;
function report(name, ok, why = '') {
  if (ok) passed++, console.log(`PASS web-${name}`);
  else failed++, console.log(`FAIL web-${name}: ${why}`);
  return ok;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(fn, ms = 10000, step = 100) {
  const until = Date.now() + ms;
  for (;;) {
    let v;
    try { v = await fn(); } catch (e) { v = false; }
    if (v || Date.now() > until) return v;
    await sleep(step);
  }
}

// Click a button in the domain table. The page redraws the table as samples arrive, so the
// row found may be replaced before the click lands ("Node is detached"): find it again.
async function clickRow(page, selector) {
  for (let i = 0; ; i++) {
    try {
      return await page.click(selector);
    } catch (e) {
      if (i >= 20 || !/detached|not clickable|no node/i.test(String(e))) throw e;
      await sleep(50);
    }
  }
}

// A raw HTTP request (to the Unix socket or the dashboard): {status, headers, body}.
function request(opts, body) {
  return new Promise((res, rej) => {
    const headers = { ...(opts.headers || {}) };
    if (body !== undefined) headers['Content-Length'] = Buffer.byteLength(body);
    const r = http.request({ ...opts, headers, agent: false }, (resp) => {
      let data = '';
      resp.on('data', (c) => { data += c; });
      resp.on('end', () => res({ status: resp.statusCode, headers: resp.headers, body: data }));
    });
    r.on('error', rej);
    r.on('upgrade', (resp, sock) => { sock.destroy(); res({ status: resp.statusCode, headers: resp.headers, body: '' }); });
    r.setTimeout(15000, () => r.destroy(new Error('timeout')));
    if (body !== undefined) r.write(body);
    r.end();
  });
}

const tmp = mkdtempSync(join(tmpdir(), 'capsule-web-'));
const sock = join(tmp, 'capsuled.sock'), state = join(tmp, 'state'), log = join(tmp, 'capsuled.log');
const unix = (method, path, body) => request({ socketPath: sock, method, path,
  headers: body ? { 'Content-Type': 'application/json' } : {} }, body);
const cli = (...args) => execFileSync(join(BUILD, 'capsule'), [args[0], '-S', sock, ...args.slice(1)],
  { encoding: 'utf8', timeout: 30000 });
// xl's State column of `capsule list` for name, or null.
const cliState = (name) => {
  for (const line of cli('list').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === name) return f[4];
  }
  return null;
};

mkdirSync(SHOTS, { recursive: true });
const daemon = spawn('timeout', ['-s', 'KILL', '600', join(BUILD, 'capsuled'), '--foreground',
  '--socket', sock, '--state-dir', state, '--web', '127.0.0.1:0', '--web-root', join(BUILD, 'web')],
{ stdio: ['ignore', 'pipe', 'pipe'] });
let daemonLog = '';
daemon.stdout.on('data', (c) => { daemonLog += c; });
daemon.stderr.on('data', (c) => { daemonLog += c; });

let browser;
const daemons = [daemon];

// Another capsuled, on every address: refused in plain HTTP, served with TLS (a
// certificate made here by openssl), and the pages work over https and wss.
async function testTLS() {
  const dir = join(tmp, 'tls');
  mkdirSync(dir);
  const start = (...extra) => {
    const p = spawn('timeout', ['-s', 'KILL', '300', join(BUILD, 'capsuled'), '--foreground',
      '--socket', join(dir, 'sock'), '--state-dir', join(dir, 'state'), '--web', '0.0.0.0:0',
      '--web-root', join(BUILD, 'web'), ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    p.out = '';
    p.stdout.on('data', (c) => { p.out += c; });
    p.stderr.on('data', (c) => { p.out += c; });
    daemons.push(p);
    return p;
  };
  const plain = start();
  const code = await new Promise((r) => { plain.on('exit', r); setTimeout(() => r('running'), 10000); });
  report('non-loopback-without-tls-refused', code === 1 && /not a loopback address, and no TLS/.test(plain.out),
    `${code}: ${plain.out.slice(-300)}`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  const tls = start('--web-tls-cert', join(dir, 'cert.pem'), '--web-tls-key', join(dir, 'key.pem'));
  const port = await waitFor(() => (/web dashboard on https:\/\/0\.0\.0\.0:(\d+)\//.exec(tls.out) || [])[1], 15000);
  if (!report('tls-starts', !!port, tls.out.slice(-500))) return;
  const url = `https://127.0.0.1:${port}`;
  const tsock = join(dir, 'sock');
  const r = await request({ socketPath: tsock, method: 'POST', path: '/api/v1/domains',
    headers: { 'Content-Type': 'application/json' } },
  JSON.stringify({ name: 'tls-tick', kernel: join(BUILD, 'tests', 'guests', 'ticker.elf'), memory: 8 }));
  report('tls-create', r.status === 201, `${r.status} ${r.body}`);
  const clear = await request({ host: '127.0.0.1', port, method: 'GET', path: '/' }).then(() => 'answered', (e) => e.message);
  report('tls-no-plain-http', clear !== 'answered', clear);

  const ctx = await browser.createBrowserContext();
  const page = await ctx.newPage();
  await page.goto(url + '/', { waitUntil: 'load' });
  await page.type('#token', readFileSync(join(dir, 'state', 'web.token'), 'utf8').trim());
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#login-button')]);
  const cookie = (await page.cookies()).find((c) => c.name === 'capsule_session');
  report('tls-login-secure-cookie', cookie && cookie.secure && cookie.httpOnly, JSON.stringify(cookie));
  const listed = await waitFor(() => page.$eval('tr[data-domain="tls-tick"] td.state', (e) => e.textContent === 'r-----'), 15000);
  report('tls-list', listed, 'tls-tick not listed running');
  await page.evaluate(() => { location.hash = '#/domain/tls-tick'; });
  const ticks = await waitFor(() => page.evaluate(() => {
    const b = window.capsuleDash.term && window.capsuleDash.term.buffer.active;
    for (let i = 0; b && i < b.length; i++) if (/tick \d+/.test(b.getLine(i).translateToString())) return true;
    return false;
  }), 10000);
  report('tls-console-over-wss', ticks && await page.evaluate(() => window.capsuleDash.evws.readyState === 1),
    'no ticks over wss, or the events socket is not open');
  await page.screenshot({ path: join(SHOTS, 'tls-domain.png'), fullPage: true });
  await ctx.close();
  await request({ socketPath: tsock, method: 'PUT', path: '/api/v1/domain.destroy?domain=tls-tick' });
}

try {
  const url = await waitFor(() => (/web dashboard on (http:\/\/[\d.]+:\d+)\//.exec(daemonLog) || [])[1], 15000);
  if (!report('capsuled-starts', !!url, daemonLog.slice(-1500))) throw new Error('no capsuled');
  const port = Number(new URL(url).port);
  const token = readFileSync(join(state, 'web.token'), 'utf8').trim();
  const web = (method, path, headers = {}, body) => request({ host: '127.0.0.1', port, method, path,
    headers: { Host: `127.0.0.1:${port}`, ...headers } }, body);

  // ---- the domains: two tickers and an echo
  const guests = join(BUILD, 'tests', 'guests');
  for (const [name, elf] of [['tick1', 'ticker.elf'], ['tick2', 'ticker.elf'], ['echo', 'echo.elf']]) {
    const r = await unix('POST', '/api/v1/domains', JSON.stringify({ name, kernel: join(guests, elf), memory: 8 }));
    report(`create-${name}`, r.status === 201, `${r.status} ${r.body}`);
  }

  // ---- refused without a session, or from elsewhere
  let r = await web('GET', '/api/v1/domains');
  report('unauthenticated-api-401', r.status === 401, `${r.status} ${r.body}`);
  r = await web('GET', '/');
  report('unauthenticated-page-is-login', r.status === 200 && r.body.includes('login-form') &&
    !r.body.includes('app.js'), r.body.slice(0, 200));
  r = await web('POST', '/login', { Origin: url, 'Content-Type': 'application/json' }, '{"token": "wrong"}');
  report('login-wrong-token-401', r.status === 401 && !r.headers['set-cookie'], `${r.status}`);
  r = await web('POST', '/login', { Origin: 'http://evil.example', 'Content-Type': 'application/json' },
    JSON.stringify({ token }));
  report('login-cross-site-403', r.status === 403 && !r.headers['set-cookie'], `${r.status}`);
  r = await web('PUT', '/api/v1/domain.pause?domain=tick1', { Origin: url });
  report('unauthenticated-action-401', r.status === 401, `${r.status}`);

  // ---- log in in the browser
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true,
    acceptInsecureCerts: true, // testTLS's certificate is made on the spot
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  const external = [];
  page.on('request', (q) => { if (!q.url().startsWith(url) && !q.url().startsWith('ws://127.0.0.1') && !q.url().startsWith('data:')) external.push(q.url()); });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url + '/', { waitUntil: 'load' });
  await page.screenshot({ path: join(SHOTS, 'login.png') });
  await page.type('#token', token);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#login-button')]);
  const go = (h) => page.evaluate((x) => { location.hash = x; }, h);
  const cookies = await page.cookies();
  const session = cookies.find((c) => c.name === 'capsule_session');
  report('login-cookie', session && session.httpOnly && session.sameSite === 'Strict',
    JSON.stringify(cookies));

  // ---- the list: the domains, xl's states
  const rowState = (name) => page.$eval(`tr[data-domain="${name}"] td.state`, (e) => e.textContent).catch(() => null);
  const listed = await waitFor(async () => (await rowState('tick1')) === 'r-----' &&
    (await rowState('tick2')) === 'r-----' && (await rowState('echo')) === 'r-----', 15000);
  report('list-running', listed, `${await rowState('tick1')} ${await rowState('tick2')} ${await rowState('echo')}`);
  await waitFor(() => page.$eval('#host .card', () => true), 5000);
  await sleep(2500); // a second host sample: the CPU card has a rate
  await page.screenshot({ path: join(SHOTS, 'host.png'), fullPage: true });

  // ---- pause from the page; the CLI sees it
  await clickRow(page, 'tr[data-domain="tick2"] button[data-action="pause"]');
  const paused = await waitFor(() => cliState('tick2') === '--p---', 10000);
  report('pause-from-page', paused, `capsule list says ${cliState('tick2')}`);
  report('pause-shown', await waitFor(async () => (await rowState('tick2')) === '--p---', 10000),
    `${await rowState('tick2')}`);

  // ---- a snapshot from the page, and a restore of it under a new name
  // The open confirmation whose question has text: value typed in, OK clicked.
  const answer = async (text, value) => {
    await page.waitForFunction((t) => document.querySelector('#confirm').open &&
      document.querySelector('#confirm-text').textContent.includes(t), { timeout: 5000 }, text);
    if (value !== undefined) await page.$eval('#confirm-input', (e, v) => { e.value = v; }, value);
    await page.click('#confirm-ok');
  };
  const snap = join(tmp, 'snap-tick2');
  await clickRow(page, 'tr[data-domain="tick2"] button[data-action="snapshot"]');
  await answer('Snapshot tick2', snap);
  const snapped = await waitFor(() => existsSync(join(snap, 'state')) && existsSync(join(snap, 'memory')), 15000);
  report('snapshot-from-page', snapped, `no ${snap}/state and memory`);
  await page.click('#restore');
  await answer('Restore a domain', snap);
  await answer('Name of the restored', 'tick2-copy');
  const restored = await waitFor(async () => /^(r-----|--p---)$/.test(cliState('tick2-copy') || '') &&
    (await rowState('tick2-copy')) !== null, 15000);
  report('restore-from-page', restored, `capsule list says ${cliState('tick2-copy')}`);
  await page.click('#clone');
  await answer('Clone domains', snap);
  await answer('How many', '2');
  await answer('Their names', 'cl');
  const cloned = await waitFor(async () => ['cl-1', 'cl-2'].every((n) => /^(r-----|--p---)$/.test(cliState(n) || '')) &&
    (await rowState('cl-2')) !== null, 20000);
  report('clone-from-page', cloned, `capsule list says ${cliState('cl-1')} ${cliState('cl-2')}`);

  // ---- the domain page: plots get new points
  await go('#/domain/tick1');
  const points = () => page.evaluate(() => (window.capsuleDash.plots.cpu || {}).points || 0);
  await waitFor(async () => (await points()) >= 1, 10000);
  const p0 = await points();
  await sleep(3000);
  const p1 = await points();
  const exitsPts = await page.evaluate(() => (window.capsuleDash.plots.exits || {}).points || 0);
  report('plots-live', p0 >= 1 && p1 >= p0 + 2 && exitsPts >= 2, `cpu points ${p0} -> ${p1}, exits ${exitsPts}`);
  // per-vCPU CPU and exits by reason: the series the VMM's metrics give
  const series = await page.evaluate(() => ({
    cpu: (window.capsuleDash.plots.cpu || {}).keys || [],
    reasons: (window.capsuleDash.plots.reasons || {}).keys || [],
  }));
  report('plots-vcpu-cpu-and-exit-reasons', series.cpu.includes('vCPU 0') &&
    series.reasons.includes('io'), JSON.stringify(series));
  const ticks = await waitFor(() => page.evaluate(() => {
    const b = window.capsuleDash.term && window.capsuleDash.term.buffer.active;
    if (!b) return false;
    for (let i = 0; i < b.length; i++) if (/tick \d+/.test(b.getLine(i).translateToString())) return true;
    return false;
  }), 10000);
  report('console-history-and-output', ticks, 'no "tick N" in the terminal');
  await page.screenshot({ path: join(SHOTS, 'domain.png'), fullPage: true });

  // ---- the console: typing reaches the echo guest and its answer comes back
  await go('#/domain/echo');
  const termText = () => page.evaluate(() => {
    const b = window.capsuleDash.term && window.capsuleDash.term.buffer.active;
    let s = '';
    for (let i = 0; b && i < b.length; i++) s += b.getLine(i).translateToString(true) + '\n';
    return s;
  });
  await waitFor(async () => (await termText()).includes('echo: ready'), 10000);
  await waitFor(() => page.evaluate(() => window.WebSocket && true), 2000);
  await sleep(500); // the socket opens
  await page.click('#console');
  await page.keyboard.type('hello from chromium');
  await page.keyboard.press('Enter');
  const echoed = await waitFor(async () => (await termText()).includes('echo: hello from chromium'), 10000);
  report('console-typing-reaches-guest', echoed, (await termText()).slice(-300));
  await waitFor(async () => (await points()) >= 3, 10000);
  await page.screenshot({ path: join(SHOTS, 'console.png'), fullPage: true });

  // ---- the event log
  await go('#/events');
  const evs = await waitFor(() => page.$$eval('#events tbody tr', (rows) => rows.map((x) => x.textContent).join('\n')), 10000);
  report('event-log', evs && evs.includes('paused') && evs.includes('created'), String(evs).slice(0, 300));
  await page.screenshot({ path: join(SHOTS, 'events.png'), fullPage: true });

  // ---- destroy, with its confirmation: the row goes
  await go('#/');
  await waitFor(async () => (await rowState('tick1')) !== null, 10000);
  await clickRow(page, 'tr[data-domain="tick1"] button[data-action="destroy"]');
  await page.waitForSelector('#confirm[open]', { timeout: 5000 });
  await page.screenshot({ path: join(SHOTS, 'confirm.png') });
  await page.click('#confirm-ok');
  const gone = await waitFor(async () => (await rowState('tick1')) === null && cliState('tick1') === null, 15000);
  report('destroy-from-page', gone, `row ${await rowState('tick1')}, cli ${cliState('tick1')}`);

  // ---- cross-site actions with a real session: refused, and nothing happens
  const cookie = `capsule_session=${session.value}`;
  const csrf = (JSON.parse((await web('GET', '/session', { Cookie: cookie })).body)).csrf;
  r = await web('PUT', '/api/v1/domain.pause?domain=echo', { Cookie: cookie, Origin: 'http://evil.example', 'X-CSRF-Token': csrf });
  report('cross-site-origin-403', r.status === 403, `${r.status} ${r.body}`);
  r = await web('PUT', '/api/v1/domain.pause?domain=echo', { Cookie: cookie, Origin: url });
  report('missing-csrf-403', r.status === 403, `${r.status} ${r.body}`);
  r = await web('PUT', '/api/v1/domain.pause?domain=echo', { Cookie: cookie, Origin: url, 'X-CSRF-Token': 'f'.repeat(64) });
  report('wrong-csrf-403', r.status === 403, `${r.status} ${r.body}`);
  report('cross-site-did-nothing', cliState('echo') === 'r-----', `echo is ${cliState('echo')}`);
  const wsHeaders = { Cookie: cookie, Connection: 'Upgrade', Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' };
  r = await web('GET', '/ws/console?domain=echo', { ...wsHeaders, Origin: 'http://evil.example' });
  report('cross-site-websocket-403', r.status === 403, `${r.status}`);
  r = await web('GET', '/ws/console?domain=echo', { ...wsHeaders, Origin: url });
  report('websocket-accept-key', r.status === 101 &&
    r.headers['sec-websocket-accept'] === 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', `${r.status} ${JSON.stringify(r.headers)}`);
  r = await web('GET', '/api/v1/domains', { Cookie: cookie, Host: `rebound.example:${port}` });
  report('dns-rebinding-host-401', r.status === 401, `${r.status}`);
  r = await web('GET', '/api/v1/domains', { Cookie: cookie });
  report('session-api-200', r.status === 200 && JSON.parse(r.body).domains.length === 5, `${r.status}`);

  report('nothing-fetched-elsewhere', external.length === 0, external.join(' '));
  report('no-page-errors', errors.length === 0, errors.join('; '));
  await testTLS();
} catch (e) {
  report('runs', false, e.stack);
} finally {
  if (browser) await browser.close().catch(() => {});
  try {
    for (const d of JSON.parse((await unix('GET', '/api/v1/domains')).body).domains)
      await unix('PUT', `/api/v1/domain.destroy?domain=${d.id}`);
  } catch (e) { /* capsuled is gone */ }
  for (const p of daemons) {
    if (p.exitCode !== null) continue;
    p.kill('SIGTERM');
    await new Promise((r) => { p.on('exit', r); setTimeout(r, 5000); });
  }
  writeFileSync(join(SHOTS, 'capsuled.log'), daemonLog);
  rmSync(tmp, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

// mcp-gateway dashboard: plain JavaScript, no dependencies. Everything shown comes from the REST
// API under /api/v1; the admin key (when auth is on) stays in this tab's sessionStorage and is
// sent as an Authorization header, never in a URL. DOM is built with createElement/textContent
// only, so no text from the gateway or a backend is ever parsed as markup.
'use strict';

const KEY_STORE = 'mcp-gateway.key';
const TABS = ['backends', 'catalog', 'requests', 'config'];
const MAX_ROWS = 500;
const REFRESH_MS = 5000;

const state = {
  auth: false,
  started: false,
  tab: 'backends',
  servers: [],
  toolsByServer: new Map(),
  results: [],
  selected: null,
  searchSeq: 0,
  stream: null,
  paused: false,
  pending: [],
  refreshTimer: null,
};

// ---------- small helpers ----------

const $ = (id) => document.getElementById(id);

/** An element with attributes/properties and children (strings become text nodes). */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function authHeaders(extra) {
  const headers = new Headers(extra || {});
  const key = sessionStorage.getItem(KEY_STORE);
  if (key) headers.set('Authorization', 'Bearer ' + key);
  return headers;
}

/** A JSON call to the REST API; a 401 asks for a key. */
async function api(path, options) {
  const opts = Object.assign({ cache: 'no-store', credentials: 'omit' }, options || {});
  opts.headers = authHeaders(opts.headers);
  const resp = await fetch(path, opts);
  let body = null;
  try {
    body = await resp.json();
  } catch (_) {
    body = null;
  }
  if (!resp.ok) {
    const e = body && body.error ? body.error : {};
    const err = new ApiError(resp.status, e.code || String(resp.status), e.message || resp.statusText);
    if (resp.status === 401) askForKey('The key was not accepted: ' + err.message);
    throw err;
  }
  return body;
}

function formatDuration(seconds) {
  const s = Math.floor(seconds);
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min';
  if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h';
}

function formatMs(ms) {
  if (typeof ms !== 'number') return '';
  if (ms < 10) return ms.toFixed(1) + ' ms';
  if (ms < 1000) return Math.round(ms) + ' ms';
  return (ms / 1000).toFixed(2) + ' s';
}

function formatBytes(n) {
  if (typeof n !== 'number') return '';
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KiB';
  return (n / 1024 / 1024).toFixed(1) + ' MiB';
}

function stateClass(label) {
  switch (label) {
    case 'running': case 'ok': case 'closed': return 'ok';
    case 'starting': case 'half-open': case 'half_open': case 'tool_error': case 'rate_limited': return 'warn';
    case 'failed': case 'error': case 'open': case 'unauthenticated': case 'forbidden': return 'bad';
    default: return '';
  }
}

function badge(text, cls) {
  return el('span', { class: 'badge ' + (cls === undefined ? stateClass(text) : cls), text: text.replace(/_/g, ' ') });
}

function notice(kind, title, lines) {
  const box = $('notice');
  const body = $('notice-body');
  clear(body);
  box.className = 'notice ' + kind;
  body.append(el('strong', { text: title }));
  if (lines && lines.length) body.append(el('ul', null, lines.map((l) => el('li', { text: l }))));
  box.hidden = false;
}

// ---------- tabs and keyboard ----------

function showTab(name, focusPanel) {
  if (!TABS.includes(name)) name = 'backends';
  state.tab = name;
  for (const t of TABS) {
    const tab = $('tab-' + t);
    const on = t === name;
    tab.setAttribute('aria-selected', on ? 'true' : 'false');
    tab.tabIndex = on ? 0 : -1;
    $('panel-' + t).hidden = !on;
  }
  if (location.hash !== '#' + name) history.replaceState(null, '', '#' + name);
  if (!state.started) return;
  if (name === 'catalog' && !state.results.length) runSearch();
  if (name === 'config') loadConfig();
  if (focusPanel) $('panel-' + name).focus();
}

function bindTabs() {
  const tabs = TABS.map((t) => $('tab-' + t));
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => showTab(tab.dataset.tab));
    tab.addEventListener('keydown', (ev) => {
      let j = null;
      if (ev.key === 'ArrowRight') j = (i + 1) % tabs.length;
      else if (ev.key === 'ArrowLeft') j = (i + tabs.length - 1) % tabs.length;
      else if (ev.key === 'Home') j = 0;
      else if (ev.key === 'End') j = tabs.length - 1;
      if (j === null) return;
      ev.preventDefault();
      showTab(tabs[j].dataset.tab);
      tabs[j].focus();
    });
  });
  for (const t of TABS) $('panel-' + t).tabIndex = -1;
  window.addEventListener('hashchange', () => showTab(location.hash.slice(1)));
  document.addEventListener('keydown', (ev) => {
    if (ev.key !== '/' || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    const typing = t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement ||
      t instanceof HTMLSelectElement || (t && t.isContentEditable);
    if (typing || $('login').open) return;
    ev.preventDefault();
    showTab('catalog');
    $('search').focus();
    $('search').select();
  });
}

// ---------- sign-in ----------

function askForKey(message) {
  const dialog = $('login');
  $('login-error').textContent = message || '';
  if (!dialog.open) dialog.showModal();
  $('login-key').focus();
}

function bindLogin() {
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = $('login-key').value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORE, key);
    $('login-error').textContent = '';
    try {
      await api('/api/v1/config');
    } catch (e) {
      if (e.status === 403) {
        sessionStorage.removeItem(KEY_STORE);
        $('login-error').textContent = 'This key is valid but not an admin key; the dashboard needs one.';
      } else if (e.status !== 401) {
        $('login-error').textContent = e.message;
      }
      return;
    }
    $('login-key').value = '';
    $('login').close();
    enter();
  });
  $('login').addEventListener('cancel', (ev) => ev.preventDefault());
  $('signout').addEventListener('click', () => {
    sessionStorage.removeItem(KEY_STORE);
    location.reload();
  });
}

// ---------- overview: health, metrics, backends ----------

async function refreshOverview() {
  let servers;
  let metrics;
  try {
    [servers, metrics] = await Promise.all([api('/api/v1/servers'), api('/api/v1/metrics')]);
  } catch (e) {
    const h = $('health');
    h.className = 'health bad';
    h.textContent = e.status ? 'error ' + e.status : 'gateway unreachable';
    return;
  }
  state.servers = servers.servers || [];
  renderHealth(metrics);
  renderCards(metrics);
  renderBackends(state.servers);
  renderUsage(metrics);
  renderServerFilter();
}

function renderHealth(metrics) {
  const h = $('health');
  h.className = 'health ok';
  h.textContent = 'up ' + formatDuration(metrics.uptime_seconds || 0);
}

function card(label, value, sub) {
  return el('div', { class: 'card' },
    el('div', { class: 'label', text: label }),
    el('div', { class: 'value', text: String(value) }),
    sub ? el('div', { class: 'sub', text: sub }) : null);
}

function renderCards(m) {
  const cards = $('cards');
  clear(cards);
  const by = (m.backends && m.backends.by_state) || {};
  const parts = Object.entries(by).map(([k, v]) => v + ' ' + k);
  const calls = m.calls || {};
  const failed = (calls.error || 0) + (calls.tool_error || 0);
  const refused = (calls.unauthenticated || 0) + (calls.forbidden || 0) + (calls.rate_limited || 0);
  const tools = state.servers.reduce((n, s) => n + (typeof s.tools === 'number' ? s.tools : 0), 0);
  cards.append(
    card('Backends', (m.backends && m.backends.total) || 0, parts.join(' · ') || 'none'),
    card('Tools', tools, 'across all backends'),
    card('Tool calls', (calls.ok || 0) + failed, (calls.ok || 0) + ' ok · ' + failed + ' failed'),
    card('Refused', refused, 'auth, scope or rate limit'),
    card('Sessions', m.sessions || 0, 'HTTP sessions open'),
    card('Uptime', formatDuration(m.uptime_seconds || 0), ''));
}

/** Fields of a server the table shows in their own columns; anything else goes to Details. */
const SERVER_FIELDS = new Set(['name', 'description', 'transport', 'state', 'tags', 'tools', 'reason', 'failsafe']);

/** Whether a field holds a time as Unix seconds (the failsafe state's `opened_at`, `open_until`, `health_check.at`). */
function isTimeField(key, v) {
  return typeof v === 'number' && (key === 'at' || key.endsWith('_at') || key.endsWith('_until'));
}

function detailValue(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'object') {
    if (Array.isArray(v)) return v.map(detailValue).join(', ');
    return Object.entries(v).map(([k, x]) => k.replace(/_/g, ' ') + ' '
      + (isTimeField(k, x) ? new Date(x * 1000).toLocaleTimeString() : detailValue(x))).join(', ');
  }
  return String(v);
}

/**
 * The failsafe state in a few words: the breaker as a badge, then only what is not idle (failures
 * in a row, calls in flight or queued against their limits, when an open breaker tries again,
 * refusals); every field is in the cell's tooltip.
 */
function breakerCell(f) {
  if (!f || typeof f !== 'object') return el('span', { class: 'hint', text: '—' });
  const parts = [];
  if (f.consecutive_failures) parts.push(f.consecutive_failures + (f.consecutive_failures === 1 ? ' failure' : ' failures'));
  if (f.in_flight || f.queued) parts.push(f.in_flight + '/' + f.max_in_flight + ' in flight, ' + f.queued + '/' + f.max_queued + ' queued');
  if (f.breaker === 'open' && f.open_until) parts.push('retry at ' + new Date(f.open_until * 1000).toLocaleTimeString());
  const refused = f.rejected ? Object.values(f.rejected).reduce((a, b) => a + (b || 0), 0) : 0;
  if (refused) parts.push(refused + ' refused');
  return el('div', { class: 'breaker', title: detailValue(f) },
    badge(f.breaker || 'unknown'),
    parts.length ? el('div', { class: 'desc', text: parts.join(' · ') }) : null);
}

function renderBackends(servers) {
  const body = $('backends').tBodies[0];
  clear(body);
  $('backends-empty').hidden = servers.length > 0;
  for (const s of servers) {
    const details = [];
    if (s.reason) details.push(el('div', { class: 'reason', text: s.reason }));
    for (const [k, v] of Object.entries(s)) {
      if (SERVER_FIELDS.has(k)) continue;
      if (v && typeof v === 'object' && !Array.isArray(v) && typeof v.state === 'string') {
        details.push(el('span', { class: 'kv' }, el('b', { text: k.replace(/_/g, ' ') + ' ' }), badge(v.state),
          ' ' + detailValue(Object.fromEntries(Object.entries(v).filter(([x]) => x !== 'state')))));
      } else {
        details.push(el('span', { class: 'kv' }, el('b', { text: k.replace(/_/g, ' ') + ' ' }), detailValue(v)));
      }
    }
    const name = el('button', {
      type: 'button', class: 'linkish', text: s.name,
      title: 'Show the tools of ' + s.name,
      onclick: () => { $('server-filter').value = s.name; $('search').value = ''; state.results = []; showTab('catalog'); },
    });
    body.append(el('tr', null,
      el('td', null, name, s.description ? el('div', { class: 'desc', text: s.description }) : null),
      el('td', null, badge(s.state)),
      el('td', { class: 'nowrap', text: s.transport }),
      el('td', { class: 'num', text: typeof s.tools === 'number' ? String(s.tools) : '—' }),
      el('td', null, (s.tags || []).map((t) => el('span', { class: 'tag', text: t }))),
      el('td', null, breakerCell(s.failsafe)),
      el('td', null, details.length ? details : el('span', { class: 'hint', text: '—' }))));
  }
}

/** Per-tool usage, when the metrics carry it (`tools`: a list of objects). */
function renderUsage(m) {
  const rows = Array.isArray(m.tools) ? m.tools : null;
  $('usage').hidden = !rows || rows.length === 0;
  if (!rows || rows.length === 0) return;
  const table = $('usage-table');
  const cols = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  clear(table.tHead);
  clear(table.tBodies[0]);
  table.tHead.append(el('tr', null, cols.map((c) => el('th', { scope: 'col', text: c.replace(/_/g, ' ') }))));
  for (const r of rows) {
    table.tBodies[0].append(el('tr', null, cols.map((c) => {
      const v = r[c];
      const numeric = typeof v === 'number';
      const text = numeric && /_ms$/.test(c) ? formatMs(v) : detailValue(v);
      return el('td', { class: numeric ? 'num' : '', text });
    })));
  }
}

function renderServerFilter() {
  const sel = $('server-filter');
  const current = sel.value;
  const names = state.servers.map((s) => s.name);
  const have = Array.from(sel.options).slice(1).map((o) => o.value);
  if (names.join('\n') === have.join('\n')) return;
  while (sel.options.length > 1) sel.remove(1);
  for (const n of names) sel.append(el('option', { value: n, text: n }));
  sel.value = names.includes(current) ? current : '';
}

// ---------- catalog ----------

let searchTimer = null;

function bindCatalog() {
  $('search-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearTimeout(searchTimer);
    runSearch();
  });
  $('search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 250);
  });
  $('search').addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown') {
      const first = $('results').querySelector('.result');
      if (first) { ev.preventDefault(); first.focus(); }
    } else if (ev.key === 'Escape' && $('search').value) {
      $('search').value = '';
      runSearch();
    }
  });
  $('server-filter').addEventListener('change', runSearch);
  $('results').addEventListener('keydown', (ev) => {
    if (ev.key !== 'ArrowDown' && ev.key !== 'ArrowUp') return;
    const items = Array.from($('results').querySelectorAll('.result'));
    const i = items.indexOf(document.activeElement);
    if (i < 0) return;
    ev.preventDefault();
    if (ev.key === 'ArrowUp' && i === 0) { $('search').focus(); return; }
    const j = Math.max(0, Math.min(items.length - 1, i + (ev.key === 'ArrowDown' ? 1 : -1)));
    items[j].focus();
  });
}

async function runSearch() {
  const q = $('search').value.trim();
  const server = $('server-filter').value;
  const seq = ++state.searchSeq;
  const params = new URLSearchParams();
  if (q) { params.set('q', q); params.set('limit', '50'); }
  if (server) params.set('server', server);
  $('search-status').textContent = 'Searching…';
  let body;
  try {
    body = await api('/api/v1/tools' + (params.toString() ? '?' + params : ''));
  } catch (e) {
    if (seq === state.searchSeq) $('search-status').textContent = 'Search failed: ' + e.message;
    return;
  }
  if (seq !== state.searchSeq) return;
  let tools = body.tools || [];
  if (!q) tools = tools.slice().sort((a, b) => (a.server + '/' + a.tool).localeCompare(b.server + '/' + b.tool));
  state.results = tools;
  const total = body.total || tools.length;
  $('search-status').textContent = q
    ? (tools.length ? tools.length + ' best matches for “' + q + '”' + (total > tools.length ? ' (of ' + total + ')' : '') : 'No tool matches “' + q + '”.')
    : total + ' tools' + (server ? ' on ' + server : '') + ', by name. Type to rank them by relevance.';
  renderResults(tools, q);
}

function renderResults(tools, q) {
  const list = $('results');
  clear(list);
  tools.forEach((t) => {
    const key = t.server + '/' + t.tool;
    const current = state.selected && state.selected.server + '/' + state.selected.tool === key;
    const button = el('button', {
      type: 'button', class: 'result', 'aria-current': current ? 'true' : 'false',
      onclick: () => selectTool(t, button),
    },
    el('span', { class: 'title' },
      el('span', { class: 'tool', text: t.tool }),
      el('span', { class: 'server', text: t.server }),
      q && typeof t.score === 'number' ? el('span', { class: 'score', title: 'relevance', text: t.score.toFixed(2) }) : null),
    t.description ? el('span', { class: 'summary', text: t.description }) : null);
    list.append(el('li', null, button));
  });
  if (tools.length && (!state.selected || !tools.some((t) => t.server === state.selected.server && t.tool === state.selected.tool))) {
    selectTool(tools[0], list.querySelector('.result'));
  }
}

async function fullTool(t) {
  if (!state.toolsByServer.has(t.server)) {
    const body = await api('/api/v1/tools?server=' + encodeURIComponent(t.server));
    state.toolsByServer.set(t.server, body.tools || []);
  }
  return state.toolsByServer.get(t.server).find((x) => x.tool === t.tool) || t;
}

async function selectTool(t, button) {
  state.selected = t;
  for (const b of $('results').querySelectorAll('.result')) b.setAttribute('aria-current', b === button ? 'true' : 'false');
  let full = t;
  try {
    full = await fullTool(t);
  } catch (_) {
    full = t;
  }
  if (state.selected !== t) return;
  renderDetail(full);
}

function typeOf(s) {
  if (!s || typeof s !== 'object') return 'any';
  if (Array.isArray(s.type)) return s.type.join(' | ');
  if (s.type === 'array') return 'array of ' + typeOf(s.items);
  if (s.type) return s.type;
  if (s.enum) return 'enum';
  if (s.anyOf || s.oneOf) return (s.anyOf || s.oneOf).map(typeOf).join(' | ');
  if (s.$ref) return s.$ref.replace(/^#\/(\$defs|definitions)\//, '');
  return 'any';
}

function paramRows(schema, depth, rows) {
  const props = (schema && schema.properties) || {};
  const required = new Set((schema && schema.required) || []);
  for (const [name, s] of Object.entries(props)) {
    const extras = [];
    if (s && Array.isArray(s.enum)) extras.push('one of: ' + s.enum.map((v) => JSON.stringify(v)).join(', '));
    if (s && s.default !== undefined) extras.push('default: ' + JSON.stringify(s.default));
    if (s && s.format) extras.push('format: ' + s.format);
    for (const k of ['minimum', 'maximum', 'minLength', 'maxLength', 'pattern']) {
      if (s && s[k] !== undefined) extras.push(k + ': ' + s[k]);
    }
    rows.push(el('tr', { class: depth === 1 ? 'nested' : depth > 1 ? 'nested2' : '' },
      el('td', null, name, required.has(name) ? el('span', { class: 'req', text: 'required' }) : null),
      el('td', { class: 'type', text: typeOf(s) }),
      el('td', null, (s && s.description) || '', extras.map((x) => el('span', { class: 'extra', text: x })))));
    if (depth < 2 && s && s.type === 'object' && s.properties) paramRows(s, depth + 1, rows);
    if (depth < 2 && s && s.type === 'array' && s.items && s.items.properties) paramRows(s.items, depth + 1, rows);
  }
  return rows;
}

function renderDetail(t) {
  const d = $('detail');
  clear(d);
  const schema = t.inputSchema || {};
  const rows = paramRows(schema, 0, []);
  d.append(
    el('h2', { text: t.tool }),
    el('p', { class: 'meta' }, 'on ', el('strong', { text: t.server }), t.kind && t.kind !== 'tool' ? ' · ' + t.kind : ''),
    t.description ? el('p', { class: 'description', text: t.description }) : el('p', { class: 'hint', text: 'No description.' }),
    el('h3', { text: 'Parameters' }),
    rows.length
      ? el('div', { class: 'table-wrap' }, el('table', { class: 'grid params', id: 'schema-table' },
        el('caption', { class: 'sr-only', text: 'Parameters of ' + t.tool }),
        el('thead', null, el('tr', null,
          el('th', { scope: 'col', text: 'Name' }), el('th', { scope: 'col', text: 'Type' }), el('th', { scope: 'col', text: 'Description' }))),
        el('tbody', null, rows)))
      : el('p', { class: 'hint', text: 'No parameters.' }),
    el('details', { class: 'raw' },
      el('summary', { text: 'Input schema (JSON)' }),
      el('pre', { class: 'code', id: 'schema-json', text: JSON.stringify(schema, null, 2) })));
}

// ---------- requests (live) ----------

function bindRequests() {
  $('pause').addEventListener('click', () => {
    state.paused = !state.paused;
    $('pause').setAttribute('aria-pressed', state.paused ? 'true' : 'false');
    $('pause').textContent = state.paused ? 'Resume' : 'Pause';
    if (!state.paused) {
      const pending = state.pending;
      state.pending = [];
      pending.forEach((e) => addRequest(e, false));
      updateRequestCount();
    }
    setLive();
  });
  $('clear').addEventListener('click', () => {
    clear($('requests').tBodies[0]);
    state.pending = [];
    updateRequestCount();
  });
  $('request-filter').addEventListener('input', applyRequestFilter);
}

function setLive(text) {
  const live = $('live');
  if (text) {
    live.dataset.state = text;
  }
  const s = live.dataset.state || 'off';
  live.className = 'live ' + (s === 'on' ? 'on' : 'off');
  live.textContent = s === 'on'
    ? (state.paused ? 'Live — paused (' + state.pending.length + ' waiting)' : 'Live')
    : s === 'connecting' ? 'Connecting…' : 'Disconnected — retrying';
}

function requestRow(e, fresh) {
  const t = new Date(e.time);
  const time = isNaN(t) ? e.time : t.toLocaleTimeString([], { hour12: false }) + '.' + String(t.getMilliseconds()).padStart(3, '0');
  const row = el('tr', { class: fresh ? 'new' : '', title: e.time },
    el('td', { class: 'mono', text: time }),
    el('td', { text: e.caller || '—' }),
    el('td', { text: e.front }),
    el('td', { class: 'mono', text: e.method }),
    el('td', { text: e.server || '—' }),
    el('td', { class: 'mono', text: e.tool || '—' }),
    el('td', { class: 'num', text: formatMs(e.duration_ms) }),
    el('td', null, badge(e.outcome)),
    el('td', { class: 'num', text: formatBytes(e.request_bytes) + ' / ' + formatBytes(e.response_bytes) }));
  row.dataset.search = [e.caller, e.front, e.method, e.server, e.tool, e.outcome].join(' ').toLowerCase();
  return row;
}

function addRequest(e, fresh) {
  const body = $('requests').tBodies[0];
  const row = requestRow(e, fresh);
  const f = $('request-filter').value.trim().toLowerCase();
  row.hidden = Boolean(f) && !row.dataset.search.includes(f);
  body.insertBefore(row, body.firstChild);
  while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
}

function applyRequestFilter() {
  const f = $('request-filter').value.trim().toLowerCase();
  for (const row of $('requests').tBodies[0].rows) row.hidden = Boolean(f) && !row.dataset.search.includes(f);
  updateRequestCount();
}

function updateRequestCount() {
  const rows = Array.from($('requests').tBodies[0].rows);
  const shown = rows.filter((r) => !r.hidden).length;
  $('requests-empty').hidden = rows.length > 0;
  $('request-count').textContent = rows.length
    ? (shown === rows.length ? rows.length + ' requests' : shown + ' of ' + rows.length + ' requests')
    : '';
}

/** Reads `GET /api/v1/requests/stream` (Server-Sent Events) with fetch, so the key goes in a header. */
async function followRequests() {
  if (state.stream) state.stream.abort();
  const ctl = new AbortController();
  state.stream = ctl;
  setLive('connecting');
  let resp;
  try {
    resp = await fetch('/api/v1/requests/stream?backlog=200', {
      headers: authHeaders({ Accept: 'text/event-stream' }), cache: 'no-store', credentials: 'omit', signal: ctl.signal,
    });
  } catch (_) {
    if (!ctl.signal.aborted) retryFollow(ctl);
    return;
  }
  if (!resp.ok) {
    setLive('off');
    if (resp.status === 401) askForKey('The key was not accepted.');
    else if (resp.status === 403) $('live').textContent = 'The request log needs an admin key.';
    else retryFollow(ctl);
    return;
  }
  clear($('requests').tBodies[0]);
  state.pending = [];
  setLive('on');
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let fresh = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        handleEvent(block, fresh);
      }
      // The backlog arrives in the first chunks; later entries are highlighted as new.
      fresh = true;
      updateRequestCount();
    }
  } catch (_) {
    // aborted or connection lost
  }
  if (!ctl.signal.aborted) retryFollow(ctl);
}

function handleEvent(block, fresh) {
  let name = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) name = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
  }
  if (!data.length) return;
  let value;
  try {
    value = JSON.parse(data.join('\n'));
  } catch (_) {
    return;
  }
  if (name === 'request') {
    if (state.paused) { state.pending.push(value); setLive(); } else addRequest(value, fresh);
  } else if (name === 'lagged') {
    notice('warn', 'The request view fell behind and skipped ' + value.missed + ' entries.');
  }
}

function retryFollow(ctl) {
  setLive('off');
  setTimeout(() => { if (state.stream === ctl) followRequests(); }, 3000);
}

// ---------- config and reload ----------

async function loadConfig() {
  let body;
  try {
    body = await api('/api/v1/config');
  } catch (e) {
    $('config-text').textContent = 'Cannot show the config: ' + e.message;
    return;
  }
  const list = $('sources');
  clear(list);
  if (!body.sources.length) list.append(el('li', { text: '(no config file; defaults)' }));
  for (const s of body.sources) list.append(el('li', { text: s }));
  // An edit that did not load: the files say one thing, the gateway runs what is shown.
  const error = $('config-error');
  clear(error);
  error.hidden = !body.reload_error;
  if (body.reload_error) {
    error.append(
      el('strong', { text: 'The files hold an edit that did not load; the gateway still runs the config below. ' }),
      el('code', { text: body.reload_error }),
    );
  }
  $('config-text').textContent = body.yaml;
}

function bindReload() {
  $('reload').addEventListener('click', reload);
  $('notice-close').addEventListener('click', () => { $('notice').hidden = true; });
}

async function reload() {
  const button = $('reload');
  button.disabled = true;
  button.textContent = 'Reloading…';
  try {
    const r = await api('/api/v1/reload', { method: 'POST' });
    showReloadReport(r);
  } catch (e) {
    if (e.status === 404) {
      notice('warn', 'This gateway has no reload endpoint (POST /api/v1/reload answered 404); restart it to apply config changes.');
    } else {
      notice('bad', 'Reload failed: ' + e.message);
    }
  } finally {
    button.disabled = false;
    button.textContent = 'Reload config';
  }
  state.toolsByServer.clear();
  state.results = [];
  refreshOverview();
  if (state.tab === 'config') loadConfig();
  if (state.tab === 'catalog') runSearch();
}

function listOf(v) {
  if (!v) return [];
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? x : detailValue(x)));
  if (typeof v === 'object') return Object.keys(v);
  return [String(v)];
}

function showReloadReport(r) {
  if (r.error) {
    notice('bad', 'The config was not applied; the running config stays in force.', [String(r.error)]);
    return;
  }
  const lines = [];
  const added = listOf(r.added);
  const removed = listOf(r.removed);
  const changed = listOf(r.changed);
  const restart = listOf(r.restart_needed);
  if (added.length) lines.push('added: ' + added.join(', '));
  if (removed.length) lines.push('removed: ' + removed.join(', '));
  if (changed.length) lines.push('changed: ' + changed.join(', '));
  if (restart.length) lines.push('needs a restart to apply: ' + restart.join(', '));
  if (r.applied === false && !lines.length) {
    notice('ok', 'Nothing to apply: the config on disk is the one running.');
  } else if (!lines.length) {
    notice('ok', 'Config reloaded; nothing changed.');
  } else {
    notice(restart.length ? 'warn' : 'ok', 'Config reloaded.', lines);
  }
}

// ---------- start ----------

async function enter() {
  state.started = true;
  $('signout').hidden = !state.auth;
  showTab(location.hash.slice(1) || state.tab);
  await refreshOverview();
  clearInterval(state.refreshTimer);
  state.refreshTimer = setInterval(() => {
    if (document.visibilityState === 'visible') refreshOverview();
  }, REFRESH_MS);
  followRequests();
}

async function start() {
  bindTabs();
  bindLogin();
  bindCatalog();
  bindRequests();
  bindReload();
  showTab(location.hash.slice(1));
  let health;
  try {
    const resp = await fetch('/api/v1/health', { cache: 'no-store', credentials: 'omit' });
    health = await resp.json();
  } catch (_) {
    $('health').className = 'health bad';
    $('health').textContent = 'gateway unreachable';
    return;
  }
  $('version').textContent = 'v' + health.version;
  state.auth = Boolean(health.auth);
  if (state.auth && !sessionStorage.getItem(KEY_STORE)) {
    askForKey('');
    return;
  }
  if (state.auth) {
    try {
      await api('/api/v1/config');
    } catch (e) {
      if (e.status === 403) {
        sessionStorage.removeItem(KEY_STORE);
        askForKey('This key is valid but not an admin key; the dashboard needs one.');
      }
      return;
    }
  }
  enter();
}

document.addEventListener('DOMContentLoaded', start);

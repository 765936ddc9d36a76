// OhmPi dashboard: one WebSocket to the daemon (or the gateway), the messages of docs/web.md.
// No framework and nothing fetched but this page's own files.

const $ = (sel) => document.querySelector(sel);
const el = (tag, props = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const k of kids) e.append(k);
  return e;
};

const MAX_ROWS = 500;
const MAX_LOG = 300;
const MAX_SERIES = 2000;
const BAD_CONTACT_KOHM = 5;

// ---------------------------------------------------------------- state

const app = {
  token: null,
  ws: null,
  backoff: 500,
  retryTimer: null,
  helloSeen: false,
  failedOpens: 0,
  role: null,
  mode: null,
  instruments: [], // [{id, prefix}]
  fleet: new Map(), // id -> {status, soh}
  current: null, // selected instrument id
  nextId: 1,
  pending: new Map(), // cmd_id -> {cmd, onReply}
  // the selected instrument's view
  status: null,
  survey: null, // survey id shown on the pseudo-section
  points: new Map(), // "a,b,m,n" -> record (current survey)
  rows: [], // newest first
  series: new Map(), // "a,b,m,n" -> [{t, rhoa, r, survey, src}]
  kFactor: new Map(), // "a,b,m,n" -> rhoa / r
  selectedQuad: null,
  contacts: [],
  seqPreview: null,
  settings: null,
};

// ---------------------------------------------------------------- token and connection

function readToken() {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem('ohmpi-token', fromUrl);
    return fromUrl;
  }
  return sessionStorage.getItem('ohmpi-token');
}

function setConn(state, text) {
  const c = $('#conn');
  c.dataset.state = state;
  c.textContent = text;
}

function connect() {
  clearTimeout(app.retryTimer);
  if (!app.token) {
    showLogin();
    return;
  }
  $('#login').hidden = true;
  $('#btn-logout').hidden = false;
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const url = `${proto}//${location.host}/ws?token=${encodeURIComponent(app.token)}`;
  setConn('connecting', 'connecting…');
  app.helloSeen = false;
  let ws;
  try {
    ws = new WebSocket(url);
  } catch (e) {
    scheduleReconnect();
    return;
  }
  app.ws = ws;
  ws.onmessage = (ev) => {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    onServerMessage(msg);
  };
  ws.onclose = (ev) => {
    if (app.ws !== ws) return;
    app.ws = null;
    if (!app.helloSeen) app.failedOpens += 1;
    const why = closeReason(ev);
    for (const [id, p] of app.pending) {
      if (p.cmd !== 'get_data') {
        showMessage(`No reply to ${p.cmd}: the connection closed${why ? ` (${why})` : ''}.`, 'error');
      }
      app.pending.delete(id);
    }
    if (ev.code === CLOSE_POLICY) {
      // The server ended the session: the token was revoked, expired or changed. It will not
      // be accepted again: say why, and ask for another.
      clearTimeout(app.retryTimer);
      setConn('unauthorized', `closed by the server: ${why}`);
      showMessage(`The server closed the connection: ${why}. Enter a valid token.`, 'error');
      $('#login').hidden = false;
      return;
    }
    scheduleReconnect(why);
  };
}

// Close code 1008 (policy violation): the server closed the connection because of its token.
const CLOSE_POLICY = 1008;

// Why a WebSocket closed, from its close event: the server's reason, else its code when it
// says something (1005: no code given; 1006: the connection dropped without a close frame).
function closeReason(ev) {
  if (ev.reason) return ev.reason;
  if (ev.code === 1006) return 'connection lost';
  if (ev.code && ev.code !== 1000 && ev.code !== 1005) return `close code ${ev.code}`;
  return '';
}

function scheduleReconnect(why = '') {
  const delay = app.backoff;
  app.backoff = Math.min(app.backoff * 2, 15000);
  if (app.failedOpens >= 3 && !app.helloSeen) {
    setConn('unauthorized', `cannot connect (token refused?) · retry in ${Math.round(delay / 1000)} s`);
    $('#login').hidden = false;
  } else {
    const because = why ? ` (${why})` : '';
    setConn('disconnected', `disconnected${because} · retry in ${Math.max(1, Math.round(delay / 1000))} s`);
  }
  app.retryTimer = setTimeout(connect, delay);
}

function showLogin() {
  setConn('idle', 'not connected');
  $('#login').hidden = false;
  $('#dashboard').hidden = true;
  $('#fleet').hidden = true;
  $('#token-input').focus();
}

// ---------------------------------------------------------------- messages and commands

function showMessage(text, kind = 'info') {
  const m = $('#message');
  m.textContent = text;
  m.dataset.kind = kind;
  m.hidden = false;
  clearTimeout(showMessage.timer);
  if (kind !== 'error') showMessage.timer = setTimeout(() => (m.hidden = true), 8000);
}

function send(cmd, kwargs = {}, onReply = null) {
  if (!app.ws || app.ws.readyState !== WebSocket.OPEN) {
    showMessage(`Not connected: ${cmd} was not sent.`, 'error');
    return null;
  }
  const cmd_id = `ui${app.nextId++}`;
  const body = { cmd_id, cmd, kwargs };
  if (app.mode === 'gateway' && app.current) body.instrument = app.current;
  app.pending.set(cmd_id, { cmd, onReply });
  app.ws.send(JSON.stringify(body));
  return cmd_id;
}

const ERROR_WORDS = {
  not_permitted: 'Not permitted',
  invalid_argument: 'Invalid',
  busy: 'Busy',
  bad_json: 'Bad message',
  unknown_command: 'Unknown command',
  hardware: 'Hardware error',
  internal: 'Internal error',
};

function describeError(cmd, err) {
  const words = ERROR_WORDS[err.code] || err.code || 'Error';
  if (err.code === 'not_permitted') {
    return `Not permitted: your role is ${app.role || 'unknown'} (${cmd}: ${err.message || 'refused'})`;
  }
  return `${words} (${cmd}): ${err.message || ''}`;
}

function onReply(instrument, payload) {
  const p = app.pending.get(payload.cmd_id);
  const cmd = payload.cmd || (p && p.cmd) || 'command';
  if (p && payload.status !== 'accepted') app.pending.delete(payload.cmd_id);
  if (payload.status === 'error') {
    const err = payload.error || {};
    const shown = err.field && showFieldError(err.field, err.message);
    showMessage(describeError(cmd, err) + (shown ? ' (see the field)' : ''), 'error');
  }
  if (p && p.onReply) p.onReply(payload);
  else defaultReply(cmd, payload);
}

function defaultReply(cmd, r) {
  if (r.status === 'error') return;
  const res = r.result || {};
  if (r.status === 'accepted') {
    const words = { run_sequence: 'Survey started', run_multiple_sequences: 'Monitoring started', rs_check: 'Contact check started' };
    showMessage(words[cmd] || `${cmd} accepted`);
    return;
  }
  switch (cmd) {
    case 'run_sequence':
    case 'run_multiple_sequences':
      showMessage(res.interrupted ? 'Survey interrupted.' : `Survey done${res.records != null ? ` (${res.records} records)` : ''}.`);
      break;
    case 'rs_check':
      if (Array.isArray(res.contacts)) {
        app.contacts = res.contacts;
        drawContacts();
      }
      showMessage(res.interrupted ? 'Contact check interrupted.' : 'Contact check done.');
      break;
    case 'interrupt':
      showMessage('Stop requested.');
      break;
    case 'pause':
    case 'resume':
      showMessage(cmd === 'pause' ? 'Paused.' : 'Resumed.');
      break;
    default:
      break;
  }
}

function onServerMessage(msg) {
  switch (msg.type) {
    case 'hello':
      onHello(msg);
      break;
    case 'message':
      onInstrumentMessage(msg.instrument, msg.topic, msg.payload || {});
      break;
    case 'reply':
      onReply(msg.instrument, msg.payload || {});
      break;
    case 'instrument':
      onNewInstrument(msg);
      break;
    case 'skipped':
      addLog({ level: 'WARN', message: `${msg.count} messages were skipped (this browser fell behind)` });
      break;
    default:
      break;
  }
}

function onHello(h) {
  app.helloSeen = true;
  app.failedOpens = 0;
  app.backoff = 500;
  app.role = h.role;
  app.mode = h.mode;
  app.instruments = h.instruments || [];
  setConn('connected', 'connected');
  const role = $('#role');
  role.hidden = false;
  role.textContent = `role: ${h.role}`;
  role.dataset.role = h.role;
  $('#login').hidden = true;
  for (const i of app.instruments) if (!app.fleet.has(i.id)) app.fleet.set(i.id, { status: null, soh: null });
  if (app.mode === 'gateway') {
    $('#btn-back').hidden = false;
    if (app.current && app.fleet.has(app.current)) openInstrument(app.current);
    else showFleet();
  } else {
    $('#btn-back').hidden = true;
    $('#fleet').hidden = true;
    const id = app.instruments[0] ? app.instruments[0].id : null;
    openInstrument(id);
  }
}

// Gateway mode: an instrument found after hello.
function onNewInstrument(i) {
  if (i.id == null) return;
  if (!app.instruments.some((x) => x.id === i.id)) app.instruments.push({ id: i.id, prefix: i.prefix });
  if (!app.fleet.has(i.id)) app.fleet.set(i.id, { status: null, soh: null });
  if (app.mode === 'gateway') renderFleet();
}

function onInstrumentMessage(id, topic, payload) {
  if (id != null && !app.fleet.has(id)) app.fleet.set(id, { status: null, soh: null });
  const f = id != null ? app.fleet.get(id) : null;
  if (f && topic === 'status') f.status = payload;
  if (f && topic === 'soh') f.soh = payload;
  if (app.mode === 'gateway' && (topic === 'status' || topic === 'soh')) renderFleet();
  const mine = app.mode !== 'gateway' || id === app.current || (app.current == null && app.instruments.length <= 1);
  if (!mine) return;
  switch (topic) {
    case 'status':
      renderStatus(payload);
      break;
    case 'soh':
      renderSoh(payload);
      break;
    case 'data':
      onRecord(payload);
      break;
    case 'data/contact':
      onContact(payload);
      break;
    case 'log':
      addLog(payload);
      break;
    case 'events/error':
      addLog({ time: payload.datetime, level: payload.level || 'ERROR', target: payload.module, message: payload.description });
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------- fleet (gateway mode)

function showFleet() {
  app.current = null;
  $('#dashboard').hidden = true;
  $('#fleet').hidden = false;
  $('#instrument-name').textContent = '';
  renderFleet();
}

function renderFleet() {
  const ul = $('#fleet-list');
  ul.replaceChildren();
  for (const [id, f] of app.fleet) {
    const st = f.status || {};
    const soh = f.soh || {};
    const state = st.online === false ? 'offline' : st.state || 'unknown';
    const bits = [];
    if (soh.battery_v != null) bits.push(`battery ${fmt(soh.battery_v, 3)} V`);
    if (soh.cpu_temp_c != null) bits.push(`CPU ${fmt(soh.cpu_temp_c, 3)} °C`);
    if (soh.time) bits.push(`SOH ${shortTime(soh.time)}`);
    if (st.survey) bits.push(`survey ${st.survey.done}/${st.survey.total}`);
    const b = el('button', { type: 'button', 'data-instrument': id },
      el('span', { class: 'id', text: id }),
      el('span', { class: 'fstate', text: state }),
      el('span', { class: 'muted', text: bits.join(' · ') || 'no state of health yet' }));
    b.addEventListener('click', () => openInstrument(id));
    ul.append(el('li', {}, b));
  }
  if (!app.fleet.size) ul.append(el('li', { class: 'muted', text: 'No instruments.' }));
}

function resetView() {
  app.status = null;
  app.survey = null;
  app.points.clear();
  app.rows = [];
  app.series.clear();
  app.kFactor.clear();
  app.selectedQuad = null;
  app.contacts = [];
  $('#records tbody').replaceChildren();
  $('#ts-box').hidden = true;
  $('#soh').replaceChildren();
  $('#log').replaceChildren();
  $('#surveys').replaceChildren();
  drawPseudo();
  drawContacts();
}

function openInstrument(id) {
  if (id !== app.current) {
    app.current = id;
    resetView();
  }
  $('#fleet').hidden = true;
  $('#dashboard').hidden = false;
  $('#instrument-name').textContent = id ? `· ${id}` : '';
  const f = id != null ? app.fleet.get(id) : null;
  if (f && f.status) renderStatus(f.status);
  if (f && f.soh) renderSoh(f.soh);
  send('get_status', {}, (r) => r.status === 'done' && r.result && renderStatus(r.result));
  send('get_settings', {}, (r) => r.status === 'done' && r.result && fillSettings(r.result.settings || r.result));
  listSurveys();
  requestAnimationFrame(redrawAll);
}

// ---------------------------------------------------------------- status

function renderStatus(s) {
  app.status = s;
  const state = s.online === false ? 'offline' : s.state || 'unknown';
  const st = $('#state');
  st.textContent = state;
  st.dataset.state = state;
  const sv = s.survey;
  const prog = $('#progress');
  if (sv && sv.total > 0) {
    prog.max = sv.total;
    prog.value = Math.min(sv.done, sv.total);
    prog.setAttribute('aria-valuenow', String(sv.done));
    prog.setAttribute('aria-valuemax', String(sv.total));
    prog.dataset.done = String(sv.done);
    const pct = Math.round((100 * sv.done) / sv.total);
    let text = `${sv.done} / ${sv.total} quadrupoles (${pct} %)`;
    if (sv.surveys > 1) text += ` · survey ${sv.index} of ${sv.surveys}`;
    $('#progress-text').textContent = text;
    $('#eta').textContent = sv.eta_s != null ? `ETA ${duration(sv.eta_s)}` : 'ETA —';
    $('#survey-id').textContent = sv.id ? `survey ${sv.id}` : '';
  } else {
    prog.setAttribute('aria-valuenow', prog.dataset.done || '0');
    $('#progress-text').textContent = state === 'idle' ? (prog.dataset.done ? 'last survey finished' : 'no survey') : state;
    $('#eta').textContent = 'ETA —';
    $('#survey-id').textContent = s.hardware ? `${s.hardware}${s.simulated ? ' (simulated)' : ''}` : '';
  }
  const running = state === 'running' || state === 'paused' || state === 'stopping';
  $('#btn-start').disabled = running;
  $('#btn-repeat').disabled = running;
  $('#btn-rs').disabled = running;
  $('#btn-stop').disabled = !running;
  $('#btn-pause').disabled = state !== 'running';
  $('#btn-resume').disabled = state !== 'paused';
}

function duration(s) {
  s = Math.max(0, Math.round(s));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// ---------------------------------------------------------------- state of health

function renderSoh(s) {
  const dl = $('#soh');
  dl.replaceChildren();
  const row = (k, v, bad = false) => {
    dl.append(el('dt', { text: k }), el('dd', { text: v, class: bad ? 'bad' : '' }));
  };
  const na = (v, d, unit) => (v == null ? '—' : `${fmt(v, d)} ${unit}`);
  row('battery', na(s.battery_v, 3, 'V'), s.battery_v != null && s.battery_v < 11.5);
  if (s.supply_v != null) row('supply', na(s.supply_v, 3, 'V'));
  row('CPU temperature', na(s.cpu_temp_c, 3, '°C'), s.cpu_temp_c != null && s.cpu_temp_c > 75);
  if (s.disk_free_mb != null) {
    const pct = s.disk_total_mb ? ` (${Math.round((100 * s.disk_free_mb) / s.disk_total_mb)} %)` : '';
    row('disk free', `${fmt(s.disk_free_mb / 1024, 3)} GiB${pct}`, s.disk_total_mb && s.disk_free_mb / s.disk_total_mb < 0.05);
  } else row('disk free', '—');
  row('broker', s.broker || '—', s.broker && s.broker !== 'connected');
  row('outbox depth', s.outbox_depth != null ? String(s.outbox_depth) : '—', s.outbox_depth > 1000);
  row('dropped samples', s.dropped_samples != null ? String(s.dropped_samples) : '—', s.dropped_samples > 0);
  if (s.bus_errors) row('bus errors', String(s.bus_errors), true);
  if (s.load_1m != null) row('load', `${fmt(s.load_1m, 2)} / ${fmt(s.load_5m, 2)} / ${fmt(s.load_15m, 2)}`);
  if (s.mem_available_mb != null) row('memory free', `${Math.round(s.mem_available_mb)} MB`);
  if (s.clock_synchronised != null) row('clock', s.clock_synchronised ? 'synchronised' : 'not synchronised', !s.clock_synchronised);
  if (s.uptime_s != null) row('uptime', duration(s.uptime_s));
  row('as of', s.time ? shortTime(s.time) : '—');
}

// ---------------------------------------------------------------- records

const quadKey = (r) => `${r.a},${r.b},${r.m},${r.n}`;

function onRecord(r) {
  if (r.survey && r.survey !== app.survey) {
    app.survey = r.survey;
    app.points.clear();
    $('#pseudo-survey').textContent = `Survey ${r.survey}.`;
  }
  const key = quadKey(r);
  if (isPos(r.rhoa_ohmm)) app.points.set(key, r);
  if (isPos(r.rhoa_ohmm) && isPos(r.r_ohm)) app.kFactor.set(key, r.rhoa_ohmm / r.r_ohm);
  let s = app.series.get(key);
  if (!s) app.series.set(key, (s = []));
  s.push({ t: Date.parse(r.time), rhoa: r.rhoa_ohmm, r: r.r_ohm, survey: r.survey, src: 'live' });
  if (s.length > MAX_SERIES) s.shift();
  app.rows.unshift(r);
  const tbody = $('#records tbody');
  tbody.prepend(recordRow(r));
  if (app.rows.length > MAX_ROWS) {
    app.rows.length = MAX_ROWS;
    while (tbody.rows.length > MAX_ROWS) tbody.deleteRow(-1);
  }
  $('#records-count').textContent = `${app.rows.length} shown (latest first, at most ${MAX_ROWS})`;
  schedulePseudo();
  if (app.selectedQuad === key) drawSeries();
}

function recordRow(r) {
  const q = r.quality || [];
  const tr = el('tr', { 'data-quad': quadKey(r), class: q.length ? 'flagged' : '' });
  if (app.selectedQuad === quadKey(r)) tr.classList.add('selected');
  const cells = [r.seq, shortTime(r.time), r.a, r.b, r.m, r.n, fmt(r.rhoa_ohmm, 4), fmt(r.r_ohm, 4),
    fmt(r.vmn_mv, 4), fmt(r.iab_ma, 4), fmt(r.r_std_pct, 2), q.join(' ')];
  for (const c of cells) tr.append(el('td', { text: c == null ? '' : String(c) }));
  return tr;
}

function selectQuad(key) {
  app.selectedQuad = key;
  for (const tr of $('#records tbody').rows) tr.classList.toggle('selected', tr.dataset.quad === key);
  $('#ts-box').hidden = false;
  $('#ts-quad').textContent = key.replaceAll(',', ' ');
  $('#ts-note').textContent = 'Fetching stored surveys…';
  drawSeries();
  send('get_data', {}, (r) => {
    if (r.status === 'error') {
      $('#ts-note').textContent = 'Stored surveys could not be fetched; live records only.';
      return;
    }
    mergeStored(key, (r.result && r.result.data) || {});
    drawSeries();
  });
}

// Stored surveys (get_data) carry R, not ρa: ρa = k·R with k from a live record of the quadrupole.
function mergeStored(key, data) {
  const [a, b, m, n] = key.split(',').map(Number);
  const live = app.series.get(key) || [];
  const liveStamps = new Set(live.map((p) => stamp(p.survey)));
  const k = app.kFactor.get(key);
  const stored = [];
  for (const [name, cols] of Object.entries(data)) {
    if (liveStamps.has(stamp(name)) || !cols || !Array.isArray(cols.a)) continue;
    const t = surveyTime(name);
    for (let i = 0; i < cols.a.length; i++) {
      if (cols.a[i] === a && cols.b[i] === b && cols.m[i] === m && cols.n[i] === n && cols.r) {
        const rr = cols.r[i];
        stored.push({ t, r: rr, rhoa: k && rr != null ? k * rr : null, survey: name, src: 'stored' });
      }
    }
  }
  const merged = live.filter((p) => p.src === 'live').concat(stored).sort((x, y) => x.t - y.t);
  app.series.set(key, merged);
  $('#ts-note').textContent = `${stored.length} point(s) from stored surveys, ${merged.length - stored.length} live.` +
    (k ? '' : ' ρa of stored surveys needs one live record of this quadrupole (its geometric factor); R is plotted instead.');
}

const stamp = (s) => (s ? String(s).replace(/^measurements_/, '').replace(/[^0-9T]/g, '').slice(0, 15) : '');
function surveyTime(name) {
  const m = /(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})/.exec(name);
  return m ? Date.UTC(+m[1], m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : NaN;
}

// ---------------------------------------------------------------- drawing helpers

function fitCanvas(c) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(50, c.clientWidth || c.parentElement.clientWidth || 300);
  const h = Math.max(30, c.clientHeight || 150);
  if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
    c.width = Math.round(w * dpr);
    c.height = Math.round(h * dpr);
  }
  const g = c.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  g.font = '11px system-ui, sans-serif';
  return { g, w, h };
}

// A perceptually ordered scale (viridis, sampled).
const VIRIDIS = [[68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [110, 206, 88], [181, 222, 43], [253, 231, 37]];
function colour(t) {
  t = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0));
  const x = t * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const c = VIRIDIS[i].map((v, j) => Math.round(v + f * (VIRIDIS[i + 1][j] - v)));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((s) => s * mag).find((s) => s >= step0) || step0;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(6));
  return out;
}

// Electrode positions, pseudo-section coordinates of a quadrupole (documented on the page).
function pseudoXY(q, spacing) {
  const p = [q.a, q.b, q.m, q.n].map((e) => (e - 1) * spacing);
  const x = (p[0] + p[1] + p[2] + p[3]) / 4;
  const z = (Math.max(...p) - Math.min(...p)) / 3;
  return [x, z];
}

function spacing() {
  const v = parseFloat($('#spacing').value);
  return v > 0 ? v : 1;
}

// ---------------------------------------------------------------- pseudo-section

let pseudoQueued = false;
function schedulePseudo() {
  if (pseudoQueued) return;
  pseudoQueued = true;
  requestAnimationFrame(() => {
    pseudoQueued = false;
    drawPseudo();
  });
}

function drawPseudo() {
  const c = $('#pseudosection');
  const pts = [...app.points.values()];
  c.dataset.points = String(pts.length);
  if ($('#dashboard').hidden) return;
  const { g, w, h } = fitCanvas(c);
  const sp = spacing();
  const L = 44, R = 10, T = 18, B = 22;
  g.fillStyle = '#66737f';
  if (!pts.length) {
    g.fillText('No records yet: the section fills in as quadrupoles are measured.', L, h / 2);
    drawColorbar(null, null);
    return;
  }
  const xy = pts.map((r) => pseudoXY(r, sp));
  const logs = pts.map((r) => Math.log10(r.rhoa_ohmm));
  let lo = Math.min(...logs), hi = Math.max(...logs);
  if (hi - lo < 1e-6) { lo -= 0.05; hi += 0.05; }
  let x0 = Math.min(...xy.map((p) => p[0])), x1 = Math.max(...xy.map((p) => p[0]));
  const zmax = Math.max(...xy.map((p) => p[1]), sp) * 1.12;
  x0 -= sp / 2; x1 += sp / 2;
  const sx = (x) => L + ((x - x0) / (x1 - x0)) * (w - L - R);
  const sz = (z) => T + (z / zmax) * (h - T - B);
  // axes
  g.strokeStyle = '#d9dee3';
  g.beginPath();
  g.moveTo(L, T); g.lineTo(w - R, T); g.moveTo(L, T); g.lineTo(L, h - B);
  g.stroke();
  g.fillStyle = '#66737f';
  g.textAlign = 'center';
  for (const t of niceTicks(x0, x1, Math.max(2, Math.floor((w - L) / 70)))) g.fillText(`${t}`, sx(t), T - 5);
  g.fillText('x [m]', (w + L) / 2, h - 6);
  g.textAlign = 'right';
  for (const t of niceTicks(0, zmax, 4)) g.fillText(`${t}`, L - 4, sz(t) + 4);
  g.save();
  g.translate(10, (T + h - B) / 2);
  g.rotate(-Math.PI / 2);
  g.textAlign = 'center';
  g.fillText('pseudo-depth [m]', 0, 0);
  g.restore();
  // points: size from the spread of the section
  const rad = Math.max(2.5, Math.min(9, (w - L - R) / Math.max(8, Math.sqrt(pts.length) * 4)));
  pts.forEach((r, i) => {
    g.fillStyle = colour((logs[i] - lo) / (hi - lo));
    g.beginPath();
    g.arc(sx(xy[i][0]), sz(xy[i][1]), rad, 0, 2 * Math.PI);
    g.fill();
  });
  drawColorbar(lo, hi);
}

function drawColorbar(lo, hi) {
  const { g, w, h } = fitCanvas($('#colorbar'));
  const L = 44, R = 10;
  if (lo == null) return;
  const bw = w - L - R;
  for (let i = 0; i < bw; i++) {
    g.fillStyle = colour(i / bw);
    g.fillRect(L + i, 2, 1.5, 12);
  }
  g.fillStyle = '#66737f';
  g.textAlign = 'left';
  g.fillText('ρa', 2, 12);
  g.fillText('[Ωm]', 2, 28);
  g.textAlign = 'center';
  // ticks at 1-2-5 decades within the range (log scale)
  const ticks = [];
  for (let d = Math.floor(lo); d <= Math.ceil(hi); d++) for (const m of [1, 2, 5]) {
    const v = Math.log10(m) + d;
    if (v >= lo && v <= hi) ticks.push(v);
  }
  if (ticks.length < 2) ticks.splice(0, ticks.length, lo, hi);
  const maxTicks = Math.max(2, Math.floor(bw / 50));
  const stride = Math.ceil(ticks.length / maxTicks);
  ticks.filter((_, i) => i % stride === 0).forEach((v) => {
    const x = L + ((v - lo) / (hi - lo)) * bw;
    g.fillRect(x, 14, 1, 4);
    g.fillText(fmt(10 ** v, 3), x, 30);
  });
}

// ---------------------------------------------------------------- time series

function drawSeries() {
  const key = app.selectedQuad;
  const c = $('#timeseries');
  if (!key || $('#ts-box').hidden) return;
  const all = (app.series.get(key) || []).filter((p) => Number.isFinite(p.t));
  const useRhoa = all.some((p) => isPos(p.rhoa));
  const pts = all.filter((p) => (useRhoa ? isPos(p.rhoa) : p.r != null)).map((p) => [p.t, useRhoa ? p.rhoa : p.r]);
  c.dataset.points = String(pts.length);
  const { g, w, h } = fitCanvas(c);
  const L = 54, R = 10, T = 10, B = 22;
  g.fillStyle = '#66737f';
  if (!pts.length) {
    g.fillText('No values for this quadrupole yet.', L, h / 2);
    return;
  }
  let t0 = Math.min(...pts.map((p) => p[0])), t1 = Math.max(...pts.map((p) => p[0]));
  let v0 = Math.min(...pts.map((p) => p[1])), v1 = Math.max(...pts.map((p) => p[1]));
  if (t1 - t0 < 1000) { t0 -= 30000; t1 += 30000; }
  if (v1 - v0 < Math.abs(v0) * 1e-3 + 1e-9) { const d = Math.abs(v0) * 0.05 || 1; v0 -= d; v1 += d; }
  const sx = (t) => L + ((t - t0) / (t1 - t0)) * (w - L - R);
  const sy = (v) => h - B - ((v - v0) / (v1 - v0)) * (h - T - B);
  g.strokeStyle = '#d9dee3';
  g.beginPath(); g.moveTo(L, T); g.lineTo(L, h - B); g.lineTo(w - R, h - B); g.stroke();
  g.textAlign = 'right';
  for (const v of niceTicks(v0, v1, 4)) g.fillText(fmt(v, 4), L - 4, sy(v) + 4);
  g.textAlign = 'left';
  g.fillText(new Date(t0).toISOString().slice(0, 16).replace('T', ' '), L, h - 6);
  g.textAlign = 'right';
  g.fillText(`${useRhoa ? 'ρa [Ωm]' : 'R [Ω]'} · ${new Date(t1).toISOString().slice(0, 16).replace('T', ' ')}`, w - R, h - 6);
  g.strokeStyle = '#1769aa';
  g.fillStyle = '#1769aa';
  g.beginPath();
  pts.forEach(([t, v], i) => (i ? g.lineTo(sx(t), sy(v)) : g.moveTo(sx(t), sy(v))));
  g.stroke();
  for (const [t, v] of pts) { g.beginPath(); g.arc(sx(t), sy(v), 2.5, 0, 2 * Math.PI); g.fill(); }
}

// ---------------------------------------------------------------- contact resistances

function onContact(c) {
  const i = app.contacts.findIndex((x) => x.a === c.a && x.b === c.b);
  if (i >= 0) app.contacts[i] = c;
  else app.contacts.push(c);
  drawContacts();
}

function drawContacts() {
  const c = $('#contacts');
  const list = app.contacts;
  const bad = list.filter((x) => !(x.rs_kohm != null && x.rs_kohm <= BAD_CONTACT_KOHM));
  c.dataset.bad = bad.map((x) => `${x.a}-${x.b}`).join(' ');
  $('#contacts-bad').textContent = !list.length ? 'No contact check yet.'
    : bad.length ? `Bad contacts (over ${BAD_CONTACT_KOHM} kΩ or no reading): ${bad.map((x) => `${x.a}–${x.b}`).join(', ')}`
      : `All ${list.length} pairs at or under ${BAD_CONTACT_KOHM} kΩ.`;
  if ($('#dashboard').hidden) return;
  const { g, w, h } = fitCanvas(c);
  const L = 40, R = 8, T = 8, B = 20;
  if (!list.length) return;
  const vals = list.map((x) => (x.rs_kohm != null && x.rs_kohm > 0 ? x.rs_kohm : null));
  const top = Math.max(BAD_CONTACT_KOHM * 2, ...vals.filter((v) => v != null));
  const lt = Math.log10(top), lb = -1; // log scale from 0.1 kΩ
  const sy = (v) => h - B - ((Math.log10(Math.max(v, 0.1)) - lb) / (lt - lb)) * (h - T - B);
  const bw = (w - L - R) / list.length;
  list.forEach((x, i) => {
    const v = vals[i];
    const isBad = !(v != null && v <= BAD_CONTACT_KOHM);
    g.fillStyle = isBad ? '#b3261e' : '#1b7f3b';
    if (v == null) g.fillRect(L + i * bw + bw * 0.1, T, Math.max(1, bw * 0.8), h - T - B);
    else g.fillRect(L + i * bw + bw * 0.1, sy(v), Math.max(1, bw * 0.8), h - B - sy(v));
  });
  g.strokeStyle = '#b26a00';
  g.setLineDash([4, 3]);
  g.beginPath(); g.moveTo(L, sy(BAD_CONTACT_KOHM)); g.lineTo(w - R, sy(BAD_CONTACT_KOHM)); g.stroke();
  g.setLineDash([]);
  g.fillStyle = '#66737f';
  g.textAlign = 'right';
  for (let d = lb; d <= Math.floor(lt); d++) g.fillText(fmt(10 ** d, 2), L - 4, sy(10 ** d) + 4);
  g.fillText('kΩ', L - 4, h - 4);
  g.textAlign = 'center';
  const stride = Math.ceil(list.length / Math.max(1, Math.floor((w - L) / 24)));
  list.forEach((x, i) => { if (i % stride === 0) g.fillText(`${x.a}`, L + (i + 0.5) * bw, h - 6); });
}

// ---------------------------------------------------------------- log

function addLog(e) {
  const ol = $('#log');
  const lvl = (e.level || 'INFO').toUpperCase();
  const fields = e.fields && Object.keys(e.fields).length ? ` ${JSON.stringify(e.fields)}` : '';
  const text = `${e.time ? shortTime(e.time) : shortTime(new Date().toISOString())} ${lvl} ${e.target ? `${e.target}: ` : ''}${e.message || ''}${fields}`;
  ol.prepend(el('li', { class: lvl, text }));
  while (ol.children.length > MAX_LOG) ol.lastChild.remove();
}

// ---------------------------------------------------------------- settings form

const SETTINGS = [
  ['injection_duration', 'injection [s]', 'number', 0.01, 15],
  ['nb_stack', 'stacks', 'int', 1, 1000],
  ['duty_cycle', 'duty cycle', 'number', 0.01, 1],
  ['strategy', 'strategy', ['fixed', 'safe', 'vmax', 'vmin', 'flex']],
  ['vab_req', 'Vab requested [V]', 'number', 0, 500],
  ['vab_min', 'Vab min [V]', 'number', 0, 500],
  ['vab_max', 'Vab max [V]', 'number', 0, 500],
  ['iab_min', 'Iab min [mA]', 'number', 0, 5000],
  ['iab_max', 'Iab max [mA]', 'number', 0, 5000],
  ['vmn_min', 'Vmn min [mV]', 'number', 0, 100000],
  ['vmn_req', 'Vmn requested [mV]', 'number', 0, 100000],
  ['vmn_max', 'Vmn max [mV]', 'number', 0, 100000],
  ['pab_min', 'Pab min [W]', 'number', 0, 1000],
  ['pab_max', 'Pab max [W]', 'number', 0, 1000],
  ['sampling_rate', 'sampling rate [Hz]', 'number', 1, 860],
  ['nb_meas', 'surveys per run', 'int', 1, null],
  ['sequence_delay', 'survey spacing [s]', 'number', 0, null],
  ['full_waveform', 'keep full waveforms', 'bool'],
];
const FIELD_ALIASES = { n_stacks: 'nb_stack', tx_volt: 'vab' };

function buildSettingsForm() {
  const box = $('#settings .fields');
  for (const [name, label, kind, min, max] of SETTINGS) {
    let input;
    const id = `set-${name}`;
    if (Array.isArray(kind)) {
      input = el('select', { id, name }, ...kind.map((v) => el('option', { value: v, text: v })));
    } else if (kind === 'bool') {
      input = el('input', { id, name, type: 'checkbox' });
    } else {
      input = el('input', { id, name, type: 'number', step: kind === 'int' ? '1' : 'any', inputMode: 'decimal' });
      if (min != null) input.min = String(min);
      if (max != null) input.max = String(max);
    }
    const range = min != null ? ` (${min}–${max ?? '…'})` : '';
    box.append(el('div', { class: 'field', 'data-field': name },
      el('label', { htmlFor: id, text: label + range }), input,
      el('span', { class: 'field-error', 'data-for': name })));
  }
}

function fillSettings(s) {
  if (!s || typeof s !== 'object') return;
  app.settings = s;
  for (const [name, , kind] of SETTINGS) {
    const input = $(`#set-${name}`);
    if (!input || s[name] === undefined) continue;
    if (kind === 'bool') input.checked = !!s[name];
    else input.value = s[name] == null ? '' : String(s[name]);
  }
}

function clearFieldErrors() {
  for (const e of document.querySelectorAll('.field-error')) e.textContent = '';
  for (const f of document.querySelectorAll('.field.invalid')) f.classList.remove('invalid');
}

// Shows `message` next to the field it names; false if the page has no such field.
function showFieldError(field, message) {
  const last = String(field).split('.').pop();
  const name = FIELD_ALIASES[last] || last;
  const span = document.querySelector(`.field-error[data-for="${CSS.escape(name)}"]`);
  if (!span) return false;
  span.textContent = message || 'invalid';
  const f = span.closest('.field');
  if (f) f.classList.add('invalid');
  const input = f && f.querySelector('input, select');
  if (input) input.focus();
  return true;
}

function readSettingsForm() {
  const out = {};
  for (const [name, , kind] of SETTINGS) {
    const input = $(`#set-${name}`);
    if (kind === 'bool') out[name] = input.checked;
    else if (Array.isArray(kind)) out[name] = input.value;
    else if (input.value.trim() !== '') out[name] = Number(input.value);
  }
  return out;
}

// ---------------------------------------------------------------- sequences

// A sequence file: one quadrupole per line, four whole numbers separated by spaces, commas,
// semicolons or tabs; blank lines, # comments and a header line are skipped.
function parseSequence(text) {
  const quads = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/#.*/, '').trim();
    if (!line) continue;
    const parts = line.split(/[\s,;]+/).filter(Boolean);
    if (parts.some((p) => !/^\d+$/.test(p))) {
      if (quads.length === 0 && /[a-z]/i.test(line)) continue; // header
      throw new Error(`line ${i + 1}: expected four electrode numbers, got "${line.slice(0, 40)}"`);
    }
    if (parts.length !== 4) throw new Error(`line ${i + 1}: expected four electrode numbers, got ${parts.length}`);
    quads.push(parts.map(Number));
  }
  if (!quads.length) throw new Error('no quadrupoles in the file');
  return quads;
}

function previewSequence(quads, label) {
  app.seqPreview = quads;
  $('#seq-count').textContent = `${label}: ${quads.length} quadrupole(s).`;
  const ol = $('#seq-list');
  ol.replaceChildren(...quads.slice(0, 200).map((q) => el('li', { text: q.join(' ') })));
  if (quads.length > 200) ol.append(el('li', { text: `… ${quads.length - 200} more` }));
  drawSeqPreview();
}

function drawSeqPreview() {
  const quads = app.seqPreview;
  if (!quads || $('#dashboard').hidden) return;
  const { g, w, h } = fitCanvas($('#seq-preview'));
  const xy = quads.map((q) => pseudoXY({ a: q[0], b: q[1], m: q[2], n: q[3] }, 1));
  const x0 = Math.min(...xy.map((p) => p[0])), x1 = Math.max(...xy.map((p) => p[0]), x0 + 1);
  const z1 = Math.max(...xy.map((p) => p[1]), 1);
  g.fillStyle = '#1769aa';
  for (const [x, z] of xy) {
    g.beginPath();
    g.arc(8 + ((x - x0) / (x1 - x0)) * (w - 16), 8 + (z / z1) * (h - 20), 2, 0, 2 * Math.PI);
    g.fill();
  }
  g.fillStyle = '#66737f';
  g.fillText('pseudo-positions (electrode spacings)', 8, h - 2);
}

// ---------------------------------------------------------------- survey files

function listSurveys() {
  send('list_surveys', {}, (r) => {
    if (r.status !== 'done') return;
    const ul = $('#surveys');
    ul.replaceChildren();
    const list = ((r.result && r.result.surveys) || []).slice().reverse();
    if (!list.length) ul.append(el('li', { class: 'muted', text: 'No stored surveys.' }));
    for (const s of list) {
      const name = s.survey;
      const link = (fmtName, text) => el('a', {
        href: `/files/${encodeURIComponent(name)}?format=${fmtName}&token=${encodeURIComponent(app.token)}`,
        text, download: '',
      });
      ul.append(el('li', {},
        el('span', { class: 'name', text: name }),
        el('span', { class: 'muted', text: s.bytes != null ? `${fmt(s.bytes / 1024, 3)} KiB` : '' }),
        link('csv', 'CSV'), link('pygimli', 'pyGIMLi'), link('protocol', 'protocol')));
    }
  });
}

// ---------------------------------------------------------------- formatting

function isPos(v) {
  return typeof v === 'number' && Number.isFinite(v) && v > 0;
}
function fmt(v, digits = 3) {
  if (v == null || !Number.isFinite(Number(v))) return '';
  v = Number(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-3) return v.toExponential(digits - 1);
  return String(Number(v.toPrecision(digits)));
}
function shortTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().slice(11, 19);
}

function redrawAll() {
  drawPseudo();
  drawContacts();
  drawSeries();
  drawSeqPreview();
}

// ---------------------------------------------------------------- wiring

function wire() {
  buildSettingsForm();
  $('#login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = $('#token-input').value.trim();
    if (!t) return;
    app.token = t;
    sessionStorage.setItem('ohmpi-token', t);
    app.failedOpens = 0;
    app.backoff = 500;
    if (app.ws) { const w = app.ws; app.ws = null; w.close(); }
    connect();
  });
  $('#btn-logout').addEventListener('click', () => {
    sessionStorage.removeItem('ohmpi-token');
    app.token = null;
    if (app.ws) { const w = app.ws; app.ws = null; w.close(); }
    clearTimeout(app.retryTimer);
    $('#role').hidden = true;
    $('#btn-logout').hidden = true;
    showLogin();
  });
  $('#btn-back').addEventListener('click', showFleet);
  $('#btn-start').addEventListener('click', () => { clearFieldErrors(); send('run_sequence', {}); });
  $('#btn-stop').addEventListener('click', () => send('interrupt'));
  $('#btn-pause').addEventListener('click', () => send('pause'));
  $('#btn-resume').addEventListener('click', () => send('resume'));
  $('#btn-rs').addEventListener('click', () => { app.contacts = []; drawContacts(); send('rs_check', {}); });
  $('#btn-repeat').addEventListener('click', () => {
    send('run_multiple_sequences', { nb_meas: Number($('#repeat-n').value), sequence_delay: Number($('#repeat-delay').value) });
  });
  $('#settings').addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearFieldErrors();
    send('update_settings', { settings: readSettingsForm() }, (r) => {
      if (r.status === 'done') {
        showMessage('Settings applied.');
        send('get_settings', {}, (g) => g.status === 'done' && g.result && fillSettings(g.result.settings || g.result));
      }
    });
  });
  $('#btn-reload-settings').addEventListener('click', () => {
    clearFieldErrors();
    send('get_settings', {}, (r) => r.status === 'done' && r.result && fillSettings(r.result.settings || r.result));
  });
  $('#seq-file').addEventListener('change', async () => {
    const f = $('#seq-file').files[0];
    $('#btn-seq-send').disabled = true;
    clearFieldErrors();
    if (!f) return;
    if (f.size > 4 << 20) { showFieldError('sequence', 'The file is over 4 MiB.'); return; }
    try {
      previewSequence(parseSequence(await f.text()), f.name);
      $('#btn-seq-send').disabled = false;
    } catch (e) {
      app.seqPreview = null;
      showFieldError('sequence', `${f.name}: ${e.message}`);
    }
  });
  $('#seq-upload').addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!app.seqPreview) return;
    clearFieldErrors();
    send('set_sequence', { sequence: app.seqPreview }, (r) => {
      if (r.status === 'done') showMessage(`Sequence loaded: ${(r.result && r.result.quadrupoles) ?? app.seqPreview.length} quadrupoles.`);
    });
  });
  const gen = $('#seq-generate');
  const syncParams = () => {
    const arr = gen.elements.array.value;
    gen.elements.n.closest('label').hidden = arr === 'wenner';
    gen.elements.s.closest('label').hidden = arr !== 'multigrad';
  };
  gen.elements.array.addEventListener('change', syncParams);
  syncParams();
  gen.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearFieldErrors();
    const e = gen.elements;
    const arr = e.array.value;
    const spec = [arr, Number(e.a.value)];
    if (arr !== 'wenner') spec.push(Number(e.n.value));
    if (arr === 'multigrad') spec.push(Number(e.s.value));
    send('create_sequence', { nelec: Number(e.nelec.value), params: [spec], include_reciprocal: e.recip.checked }, (r) => {
      if (r.status === 'done') {
        const n = r.result && r.result.quadrupoles;
        app.seqPreview = null;
        $('#seq-list').replaceChildren();
        fitCanvas($('#seq-preview'));
        $('#seq-count').textContent = `Generated and loaded: ${spec.join(' ')} on ${e.nelec.value} electrodes, ${n ?? '?'} quadrupoles.`;
        showMessage(`Sequence generated: ${n ?? '?'} quadrupoles.`);
      }
    });
  });
  $('#btn-surveys').addEventListener('click', listSurveys);
  $('#records tbody').addEventListener('click', (ev) => {
    const tr = ev.target.closest('tr');
    if (tr && tr.dataset.quad) selectQuad(tr.dataset.quad);
  });
  const sp = localStorage.getItem('ohmpi-spacing');
  if (sp) $('#spacing').value = sp;
  $('#spacing').addEventListener('change', () => {
    localStorage.setItem('ohmpi-spacing', String(spacing()));
    drawPseudo();
  });
  let resizeTimer;
  window.addEventListener('resize', () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(redrawAll, 150); });
  $('#message').addEventListener('click', () => ($('#message').hidden = true));
}

wire();
app.token = readToken();
connect();

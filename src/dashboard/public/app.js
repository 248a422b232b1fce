/*
 * queen dashboard: plain browser JavaScript, no build step, no third-party code.
 *
 * Data comes from the queen's own API with the admin token the user enters
 * (kept in localStorage). Live updates come from GET /v1/events: any event
 * refetches the hive it names, the hive list and the fleet totals (debounced).
 * A full refresh every 5 s covers what no event announces (a worker going
 * from loading to idle, VRAM use) and a dropped stream.
 */
(function () {
  'use strict';

  var GIB = 1073741824;
  var PAGE_SIZE = 20;
  var REFRESH_MS = 5000;
  var DEBOUNCE_MS = 250;
  var RECONNECT_MS = 5000;
  var MAX_LOGGED_EVENTS = 40;
  var STATE_FETCH_CONCURRENCY = 6;
  var TOKEN_KEY = 'queen.apiToken';
  var EVENT_TYPES = [
    'hive.online', 'hive.offline', 'hive.capabilities', 'hive.removed',
    'worker.added', 'worker.removed', 'placement.created',
    'deployment.created', 'deployment.updated', 'deployment.deleted',
    'deployment.worker_started', 'deployment.worker_replaced', 'fleet.outage', 'fleet.recovered',
  ];
  var DEPLOYMENT_REASON_TEXT = {
    no_capacity: 'no hive has room',
    starting: 'starting',
    backoff: 'failing, retrying later',
    held_fleet_outage: 'held: most hives went silent at once',
  };
  var REJECTION_TEXT = {
    offline: 'Offline',
    cordoned: 'Cordoned',
    no_capabilities: 'Devices not known yet',
    insufficient_vram: 'Not enough free VRAM',
    insufficient_ram: 'Not enough free RAM',
    label_mismatch: 'Labels do not match',
  };

  // ---------------------------------------------------------------- state

  var token = readToken();
  var view = {
    status: '',
    offset: 0,
    total: 0,
    hives: [],
    /** hive id -> GET /v1/hives/{id}/state answer */
    states: new Map(),
    /** hive id -> worker list including those still starting (reservations), when fetched */
    workers: new Map(),
  };
  /** Hives with a placement not yet reported by their heartbeat: their worker list is fetched too. */
  var pendingPlacements = new Set();
  var dirtyHives = new Set();
  var debounceTimer = null;
  var refreshing = null;
  var refreshAgain = false;
  var fullWanted = false;
  var events = null;
  var reconnectTimer = null;
  var locked = false;
  var streamOpenedBefore = false;

  // ---------------------------------------------------------------- helpers

  function $(id) {
    return document.getElementById(id);
  }

  /** Builds an element; strings become text nodes, so API data is never parsed as HTML. */
  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === null || value === undefined || value === false) return;
        if (key === 'class') el.className = value;
        else if (key === 'text') el.textContent = value;
        else if (key.indexOf('data-') === 0 || key === 'title' || key === 'role' || key.indexOf('aria-') === 0) {
          el.setAttribute(key, String(value));
        } else el[key] = value;
      });
    }
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  function append(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) child.forEach(function (c) { append(el, c); });
    else el.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }

  function gib(bytes) {
    var value = (bytes || 0) / GIB;
    return (value >= 100 ? value.toFixed(0) : value.toFixed(1)) + ' GiB';
  }

  function pct(part, whole) {
    if (!whole) return 0;
    return Math.max(0, Math.min(100, (part / whole) * 100));
  }

  function clockTime(iso) {
    if (!iso) return '–';
    var date = new Date(iso);
    return isNaN(date.getTime()) ? '–' : date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  function plural(n, word) {
    return n + ' ' + word + (n === 1 ? '' : 's');
  }

  function readToken() {
    try {
      return localStorage.getItem(TOKEN_KEY) || '';
    } catch (e) {
      return '';
    }
  }

  function writeToken(value) {
    token = value;
    try {
      if (value) localStorage.setItem(TOKEN_KEY, value);
      else localStorage.removeItem(TOKEN_KEY);
    } catch (e) {
      /* private mode: keep it in memory only */
    }
  }

  // ---------------------------------------------------------------- API

  function ApiError(status, problem) {
    this.status = status;
    this.problem = problem || {};
    this.message = (problem && (problem.detail || problem.title)) || 'HTTP ' + status;
  }

  /** fetch() against the queen: JSON in and out, problem JSON turned into ApiError, 401 into the token prompt. */
  function api(path, options) {
    options = options || {};
    var headers = { accept: 'application/json' };
    if (token) headers.authorization = 'Bearer ' + token;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    return fetch(path, {
      method: options.method || 'GET',
      headers: headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: 'no-store',
    }).then(function (res) {
      var type = res.headers.get('content-type') || '';
      var parse = /json/.test(type) ? res.json().catch(function () { return null; }) : res.text();
      return parse.then(function (body) {
        if (res.status === 401) {
          askForToken(token ? 'The saved token was refused. Enter the current QUEEN_API_TOKEN.' : null);
          throw new ApiError(401, body);
        }
        if (!res.ok) throw new ApiError(res.status, typeof body === 'object' ? body : { detail: String(body).slice(0, 200) });
        return body;
      });
    });
  }

  // ---------------------------------------------------------------- refresh

  /**
   * Reloads the hive list and the fleet totals, plus the live state of every
   * hive on the page (`full`) or only of those events named since the last
   * refresh. One refresh runs at a time; asks meanwhile are merged into one more.
   */
  function refresh(full) {
    if (full) fullWanted = true;
    if (locked) return Promise.resolve();
    if (refreshing) {
      refreshAgain = true;
      return refreshing;
    }
    var only = fullWanted ? null : dirtyHives;
    fullWanted = false;
    dirtyHives = new Set();
    refreshing = load(only)
      .then(function () {
        setBanner(null);
        $('updated').textContent = 'Updated ' + new Date().toLocaleTimeString();
      })
      .catch(function (error) {
        if (error instanceof ApiError && error.status === 401) return;
        setBanner('Cannot reach the queen: ' + (error && error.message ? error.message : error));
      })
      .then(function () {
        refreshing = null;
        if (refreshAgain) {
          refreshAgain = false;
          return refresh();
        }
      });
    return refreshing;
  }

  /** The current page of hives, the live state of those in `only` (all when null) or not seen yet, and the fleet totals. */
  function load(only) {
    var query = '?limit=' + PAGE_SIZE + '&offset=' + view.offset + (view.status ? '&status=' + view.status : '');
    var totals = loadTotals();
    var deployments = loadDeployments();
    return api('/v1/hives' + query).then(function (list) {
      if (list.items.length === 0 && list.total > 0 && view.offset > 0) {
        view.offset = Math.max(0, Math.floor((list.total - 1) / PAGE_SIZE) * PAGE_SIZE);
        return load(null);
      }
      var ids = list.items.map(function (hive) { return hive.id; });
      var wanted = ids.filter(function (id) {
        return !only || only.has(id) || !view.states.has(id) || pendingPlacements.has(id);
      });
      return loadStates(wanted).then(function (fetched) {
        var states = new Map();
        var workers = new Map();
        ids.forEach(function (id) {
          var state = fetched.states.has(id) ? fetched.states.get(id) : view.states.get(id);
          if (state) states.set(id, state);
          var hiveWorkers = fetched.states.has(id) ? fetched.workers.get(id) : view.workers.get(id);
          if (hiveWorkers) workers.set(id, hiveWorkers);
        });
        view.hives = list.items;
        view.total = list.total;
        view.states = states;
        view.workers = workers;
        return deployments.then(renderDeployments).then(function () { return totals; });
      }).then(render);
    });
  }

  /** Live state of these hives; with the worker list too where workers are still starting. */
  function loadStates(ids) {
    var queue = ids.slice();
    var fresh = new Map();
    var freshWorkers = new Map();
    function next() {
      var id = queue.shift();
      if (id === undefined) return Promise.resolve();
      return api('/v1/hives/' + encodeURIComponent(id) + '/state')
        .then(function (state) {
          fresh.set(id, state);
          if (!pendingPlacements.has(id) && !hasReservations(state)) return null;
          return api('/v1/workers?hive_id=' + encodeURIComponent(id)).then(function (list) {
            freshWorkers.set(id, list.items);
            if (!list.items.some(function (w) { return w.reservation_id; })) pendingPlacements.delete(id);
          });
        })
        .catch(function (error) {
          if (error instanceof ApiError && error.status === 404) return null; // removed meanwhile
          throw error;
        })
        .then(next);
    }
    var runners = [];
    for (var i = 0; i < STATE_FETCH_CONCURRENCY; i++) runners.push(next());
    return Promise.all(runners).then(function () {
      return { states: fresh, workers: freshWorkers };
    });
  }

  function hasReservations(state) {
    if (state.ram && state.ram.reserved_bytes > 0) return true;
    return (state.devices || []).some(function (d) { return d.reserved_bytes > 0; });
  }

  /** Fleet-wide totals from GET /v1/fleet (cheap whatever the fleet size); null when they cannot be read. */
  function loadTotals() {
    return api('/v1/fleet').catch(function () { return null; });
  }

  function scheduleRefresh(hiveId) {
    if (hiveId) dirtyHives.add(hiveId);
    if (debounceTimer) return;
    debounceTimer = setTimeout(function () {
      debounceTimer = null;
      refresh();
    }, DEBOUNCE_MS);
  }

  // ---------------------------------------------------------------- rendering

  function hiveStatus(hive, state) {
    // The live state is authoritative once the queen has heard from the hive; the catalog otherwise.
    if (state && state.last_heartbeat_at) return state.online ? 'online' : 'offline';
    return hive.status;
  }

  function render(totals) {
    renderSummary(totals);
    renderHives();
    renderPager();
    var ids = $('hive-ids');
    ids.replaceChildren.apply(ids, view.hives.map(function (hive) { return h('option', { value: hive.id }); }));
  }

  function renderSummary(totals) {
    if (!totals) {
      $('stat-hives').textContent = '–';
      $('stat-workers').textContent = '–';
      $('stat-vram').textContent = '–';
      return;
    }
    var hives = totals.hives;
    var online = hives.online || 0;
    var all = (hives.online || 0) + (hives.offline || 0) + (hives.unknown || 0);
    $('stat-hives').replaceChildren(String(online), h('span', { class: 'stat-of', text: ' / ' + all }));
    $('stat-hives-sub').textContent = (hives.offline || 0) + ' offline · ' + (hives.unknown || 0) + ' unknown';

    var states = Object.keys(totals.workers).sort();
    var reported = states.reduce(function (sum, s) { return sum + totals.workers[s]; }, 0);
    $('stat-workers').textContent = String(reported + totals.reservations);
    var parts = states.filter(function (s) { return totals.workers[s] > 0; }).map(function (s) { return totals.workers[s] + ' ' + s; });
    if (totals.reservations) parts.unshift(totals.reservations + ' starting');
    $('stat-workers-sub').textContent = parts.length ? parts.join(' · ') : 'none running';

    var vram = totals.vram;
    var total = vram.total_bytes;
    var used = vram.used_bytes;
    var reserved = vram.reserved_bytes;
    $('stat-vram').replaceChildren(gib(used + reserved), h('span', { class: 'stat-of', text: ' / ' + gib(total) }));
    setBar($('stat-vram-bar'), used, reserved, total);
    $('stat-vram-sub').replaceChildren(
      legendItem('used', gib(used) + ' used'),
      legendItem('reserved', gib(reserved) + ' reserved'),
      legendItem('free', gib(Math.max(0, total - used - reserved)) + ' free')
    );
  }

  function legendItem(kind, text) {
    return h('span', { class: 'legend-item' }, h('span', { class: 'swatch swatch-' + kind }), text);
  }

  function setBar(bar, used, reserved, total) {
    var usedPct = pct(used, total);
    bar.children[0].style.width = usedPct + '%';
    bar.children[1].style.width = Math.min(100 - usedPct, pct(reserved, total)) + '%';
  }

  function renderHives() {
    var list = $('hive-list');
    $('hive-count').textContent = view.total ? String(view.total) : '';
    if (view.hives.length === 0) {
      list.replaceChildren(
        h('div', { class: 'empty-state' },
          h('strong', { text: view.status ? 'No ' + view.status + ' hives.' : 'No hives registered yet.' }),
          view.status ? null : h('span', null, 'Register one with ', h('code', { text: 'POST /v1/hives' }), '; it appears here when it sends its first heartbeat.')
        )
      );
      return;
    }
    var existing = new Map();
    Array.prototype.forEach.call(list.querySelectorAll(':scope > .hive'), function (card) {
      existing.set(card.getAttribute('data-hive-id'), card);
    });
    var cards = view.hives.map(function (hive) {
      var state = view.states.get(hive.id) || null;
      var workers = view.workers.get(hive.id) || (state ? state.workers : []);
      var key = JSON.stringify([hive, state, workers]);
      var card = existing.get(hive.id);
      if (card && card._key === key) return card;
      var fresh = hiveCard(hive, state, workers);
      fresh._key = key;
      return fresh;
    });
    // Move and replace only what changed, so unchanged cards are left alone.
    cards.forEach(function (card, i) {
      var at = list.children[i];
      if (at !== card) list.insertBefore(card, at || null);
    });
    while (list.children.length > cards.length) list.lastChild.remove();
  }

  function hiveCard(hive, state, workers) {
    var status = hiveStatus(hive, state);
    var caps = hive.capabilities;
    var gpuNames = new Map();
    if (caps) caps.gpus.forEach(function (gpu) { gpuNames.set(gpu.backend + ':' + gpu.index, gpu.name); });

    var badges = [h('span', { class: 'badge badge-status badge-' + status, text: status })];
    if (hive.cordoned) badges.push(h('span', { class: 'badge badge-cordoned', text: 'cordoned', title: 'No new workers are placed here' }));

    var labels = Object.keys(hive.labels || {}).sort().map(function (key) {
      return h('span', { class: 'chip', text: key + '=' + hive.labels[key] });
    });

    var capsText = caps
      ? [plural(caps.cpu_cores, 'core'), gib(caps.ram_bytes) + ' RAM', summarizeGpus(caps.gpus)].filter(Boolean).join(' · ')
      : 'Devices not reported yet';

    var devices = state ? state.devices.map(function (d) {
      return capacityRow(d.device, gpuNames.get(d.device) || '', d);
    }) : [];
    if (state && state.ram && state.ram.total_bytes > 0) devices.push(capacityRow('RAM', 'host memory', state.ram, true));

    return h('article', { class: 'hive hive-' + status, 'data-hive-id': hive.id, 'data-status': status },
      h('header', { class: 'hive-head' },
        h('div', { class: 'hive-title' }, h('h3', { text: hive.id }), badges),
        h('div', { class: 'hive-meta' },
          h('span', { text: hive.host + ':' + hive.port }),
          h('span', { title: state && state.last_heartbeat_at ? state.last_heartbeat_at : hive.last_heartbeat_at || '',
            text: 'last heartbeat ' + clockTime((state && state.last_heartbeat_at) || hive.last_heartbeat_at) }))
      ),
      h('div', { class: 'hive-caps' }, h('span', { text: capsText }), labels.length ? h('span', { class: 'chips' }, labels) : null),
      devices.length ? h('div', { class: 'devices' }, devices) : null,
      workerTable(workers || [])
    );
  }

  function summarizeGpus(gpus) {
    if (!gpus || gpus.length === 0) return 'no GPU';
    var byName = new Map();
    gpus.forEach(function (gpu) { byName.set(gpu.name, (byName.get(gpu.name) || 0) + 1); });
    return Array.from(byName.entries()).map(function (entry) { return entry[1] + '× ' + entry[0]; }).join(', ');
  }

  function capacityRow(name, detail, cap, isRam) {
    var bar = h('div', { class: 'bar', role: 'img',
      'aria-label': name + ': ' + gib(cap.used_bytes) + ' used, ' + gib(cap.reserved_bytes) + ' reserved, ' + gib(cap.free_bytes) + ' free of ' + gib(cap.total_bytes) },
      h('span', { class: 'bar-used' }), h('span', { class: 'bar-reserved' }));
    setBar(bar, cap.used_bytes, cap.reserved_bytes, cap.total_bytes);
    return h('div', { class: 'device' + (isRam ? ' device-ram' : ''), 'data-device': name },
      h('div', { class: 'device-head' },
        h('span', { class: 'device-name' }, name, detail ? h('span', { class: 'muted', text: ' ' + detail }) : null),
        h('span', { class: 'device-total', text: gib(cap.total_bytes) })
      ),
      bar,
      h('div', { class: 'device-nums' },
        h('span', { class: 'num-used', text: gib(cap.used_bytes) + ' used' }),
        h('span', { class: 'num-reserved', text: gib(cap.reserved_bytes) + ' reserved' }),
        h('span', { class: 'num-free', text: gib(cap.free_bytes) + ' free' })
      )
    );
  }

  function workerTable(workers) {
    if (workers.length === 0) return h('p', { class: 'no-workers', text: 'No workers' });
    return h('table', { class: 'workers' },
      h('thead', null, h('tr', null,
        h('th', { text: 'Worker' }), h('th', { text: 'Model' }), h('th', { text: 'State' }),
        h('th', { text: 'Device' }), h('th', { class: 'num', text: 'VRAM' }))),
      h('tbody', null, workers.slice().sort(byDeviceThenId).map(function (w) {
        return h('tr', { 'data-worker-id': w.worker_id },
          h('td', { class: 'mono', text: w.worker_id, title: w.url || '' }),
          h('td', { text: w.model_id || '–' }),
          h('td', null, h('span', { class: 'state state-' + w.state, text: w.state })),
          h('td', { class: 'mono', text: w.device }),
          h('td', { class: 'num', text: w.vram_bytes ? gib(w.vram_bytes) : '–' }));
      }))
    );
  }

  function byDeviceThenId(a, b) {
    return a.device === b.device ? (a.worker_id < b.worker_id ? -1 : 1) : a.device < b.device ? -1 : 1;
  }

  function renderPager() {
    var pages = Math.ceil(view.total / PAGE_SIZE);
    $('pager').hidden = pages <= 1;
    $('page-info').textContent = view.total
      ? view.offset + 1 + '–' + Math.min(view.offset + PAGE_SIZE, view.total) + ' of ' + view.total
      : '';
    $('page-prev').disabled = view.offset === 0;
    $('page-next').disabled = view.offset + PAGE_SIZE >= view.total;
  }

  function setBanner(text) {
    var banner = $('banner');
    banner.hidden = !text;
    banner.textContent = text || '';
  }

  // ---------------------------------------------------------------- events

  function setLive(state, text) {
    $('live').setAttribute('data-state', state);
    $('live-text').textContent = text;
  }

  function connectEvents() {
    disconnectEvents();
    if (locked || typeof EventSource === 'undefined') return;
    var url = '/v1/events' + (token ? '?access_token=' + encodeURIComponent(token) : '');
    var source = new EventSource(url);
    events = source;
    setLive('connecting', 'Connecting');
    source.onopen = function () {
      setLive('live', 'Live');
      // The browser resumes with Last-Event-ID, so missed events are replayed; the figures are read
      // again all the same, as the queen may have restarted (it then also sends `reset`).
      if (streamOpenedBefore) refresh(true);
      streamOpenedBefore = true;
    };
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) {
        // Refused (e.g. 401) or the queen went away: poll, and try again later.
        setLive('down', 'Polling');
        events = null;
        scheduleReconnect();
      } else {
        setLive('connecting', 'Reconnecting');
      }
    };
    source.addEventListener('reset', function () {
      refresh(true);
    });
    EVENT_TYPES.forEach(function (type) {
      source.addEventListener(type, function (message) {
        var data;
        try {
          data = JSON.parse(message.data);
        } catch (e) {
          return;
        }
        logEvent(data);
        if (type === 'placement.created' && data.hive_id) pendingPlacements.add(data.hive_id);
        scheduleRefresh(data.hive_id);
      });
    });
  }

  function disconnectEvents() {
    if (reconnectTimer) clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (events) events.close();
    events = null;
  }

  function scheduleReconnect() {
    if (reconnectTimer || locked) return;
    reconnectTimer = setTimeout(function () {
      reconnectTimer = null;
      connectEvents();
    }, RECONNECT_MS);
  }

  function describeEvent(e) {
    switch (e.type) {
      case 'hive.online': return [e.hive_id, ' came online'];
      case 'hive.offline': return [e.hive_id, ' went offline'];
      case 'hive.capabilities': return [e.hive_id, ' reported its devices'];
      case 'hive.removed': return [e.hive_id, ' was removed'];
      case 'worker.added': return [e.worker_id, ' on ', e.hive_id, e.model_id ? ' · ' + e.model_id : '', e.device ? ' · ' + e.device : ''];
      case 'worker.removed': return [e.worker_id, ' left ', e.hive_id];
      case 'placement.created': return [e.worker_id, ' → ', e.hive_id, ' ', e.device || '', e.model_id ? ' · ' + e.model_id : ''];
      case 'deployment.created': return [e.deployment, ' created, ', String(e.replicas), ' replica(s)'];
      case 'deployment.updated': return [e.deployment, ' now ', String(e.replicas), ' replica(s)'];
      case 'deployment.deleted': return [e.deployment, ' deleted'];
      case 'deployment.worker_started': return [e.deployment, ': ', e.worker_id, ' → ', e.hive_id];
      case 'deployment.worker_replaced': return [e.deployment, ': replacing ', e.worker_id, ' (', e.reason, ')'];
      case 'fleet.outage': return ['most hives went silent at once: rescheduling held'];
      case 'fleet.recovered': return ['hives are back: rescheduling resumes'];
      default: return [e.type];
    }
  }

  function logEvent(e) {
    var log = $('event-log');
    var empty = log.querySelector('.empty');
    if (empty) empty.remove();
    var kind = e.type.replace('.', '-');
    var item = h('li', { class: 'event event-' + kind },
      h('time', { text: clockTime(e.at), title: e.at || '' }),
      h('span', { class: 'event-type', text: e.type }),
      h('span', { class: 'event-text', text: describeEvent(e).join('') }));
    log.insertBefore(item, log.firstChild);
    while (log.children.length > MAX_LOGGED_EVENTS) log.lastChild.remove();
  }

  // ---------------------------------------------------------------- token

  function askForToken(reason) {
    locked = true;
    disconnectEvents();
    setLive('locked', 'Locked');
    var dialog = $('token-dialog');
    $('token-error').hidden = !reason;
    $('token-error').textContent = reason || '';
    if (!dialog.open) {
      $('token-input').value = '';
      dialog.showModal();
      $('token-input').focus();
    }
  }

  function unlock() {
    locked = false;
    refresh(true);
    connectEvents();
  }

  function setUpTokenDialog() {
    var dialog = $('token-dialog');
    $('token-button').addEventListener('click', function () {
      $('token-error').hidden = true;
      $('token-input').value = '';
      $('token-input').placeholder = token ? 'A token is saved; enter a new one' : '';
      dialog.showModal();
    });
    $('token-form').addEventListener('submit', function (event) {
      event.preventDefault();
      var value = $('token-input').value.trim();
      if (!value) return;
      writeToken(value);
      dialog.close();
      unlock();
    });
    $('token-cancel').addEventListener('click', function () {
      dialog.close();
    });
    $('token-forget').addEventListener('click', function () {
      writeToken('');
      dialog.close();
      unlock();
    });
  }

  // ---------------------------------------------------------------- placement form

  function parseLabels(text) {
    var labels = {};
    var parts = text.split(/[\s,]+/).filter(Boolean);
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf('=');
      if (eq <= 0) throw new Error('labels must be key=value pairs, e.g. zone=a, tier=gold');
      labels[parts[i].slice(0, eq)] = parts[i].slice(eq + 1);
    }
    return parts.length ? labels : undefined;
  }

  function gibToBytes(text) {
    var value = Number(text);
    if (text === '' || !isFinite(value) || value < 0) return NaN;
    return Math.round(value * GIB);
  }

  function setUpPlacementForm() {
    var form = $('place-form');
    var submit = $('place-submit');
    function syncMode() {
      var start = $('mode-start').checked;
      submit.textContent = start ? 'Start worker' : 'Plan placement';
      $('mode-hint').textContent = start
        ? 'Reserves capacity and asks the chosen hive to start the worker.'
        : 'Shows where the worker would go. Nothing is reserved.';
    }
    $('mode-plan').addEventListener('change', syncMode);
    $('mode-start').addEventListener('change', syncMode);
    syncMode();

    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var start = $('mode-start').checked;
      var body;
      try {
        body = placementBody();
      } catch (error) {
        showResult('error', [h('strong', { text: 'Check the form' }), h('p', { text: error.message })]);
        return;
      }
      submit.disabled = true;
      submit.classList.add('busy');
      api(start ? '/v1/workers' : '/v1/placements', { method: 'POST', body: body })
        .then(function (answer) {
          if (start) {
            pendingPlacements.add(answer.hive_id);
            showResult('ok', [
              h('strong', null, 'Worker ', h('span', { class: 'mono', 'data-worker-id': answer.worker_id, text: answer.worker_id }), ' is starting'),
              h('dl', { class: 'kv' },
                h('dt', { text: 'Hive' }), h('dd', { class: 'result-hive', text: answer.hive_id }),
                h('dt', { text: 'Device' }), h('dd', { class: 'mono', text: answer.device }),
                h('dt', { text: 'Reservation' }), h('dd', { class: 'mono', text: answer.reservation_id })),
            ]);
            scheduleRefresh(answer.hive_id);
          } else {
            showResult('ok', [
              h('strong', { text: 'Would place on ' + answer.hive_id }),
              h('dl', { class: 'kv' },
                h('dt', { text: 'Hive' }), h('dd', { class: 'result-hive', text: answer.hive_id }),
                h('dt', { text: 'Device' }), h('dd', { class: 'mono', text: answer.device }),
                h('dt', { text: 'Score' }), h('dd', { text: Number(answer.score).toFixed(2) })),
              h('p', { class: 'muted', text: 'Nothing was reserved. Choose “Start worker” to start it.' }),
            ]);
          }
        })
        .catch(function (error) {
          if (error instanceof ApiError && error.status === 401) {
            showResult('error', [h('strong', { text: 'Enter the API token, then try again.' })]);
            return;
          }
          showResult('error', problemView(error));
        })
        .then(function () {
          submit.disabled = false;
          submit.classList.remove('busy');
        });
    });
  }

  function placementBody() {
    var model = $('f-model').value.trim();
    if (!model) throw new Error('Enter a model id.');
    var vram = gibToBytes($('f-vram').value.trim());
    if (isNaN(vram)) throw new Error('Enter the VRAM the worker needs, in GiB (0 for a CPU worker).');
    var body = { model_id: model, vram_bytes: vram };
    var ramText = $('f-ram').value.trim();
    if (ramText) {
      var ram = gibToBytes(ramText);
      if (isNaN(ram)) throw new Error('RAM must be a number of GiB.');
      body.ram_bytes = ram;
    }
    if ($('f-backend').value) body.backend = $('f-backend').value;
    body.strategy = $('f-strategy').value;
    var hive = $('f-hive').value.trim();
    if (hive) body.hive_id = hive;
    var labels = parseLabels($('f-labels').value.trim());
    if (labels) body.labels = labels;
    return body;
  }

  function problemView(error) {
    var problem = (error && error.problem) || {};
    var parts = [h('strong', { text: problem.title ? problem.title + (error.status ? ' (' + error.status + ')' : '') : 'Request failed' }),
      h('p', { text: problem.detail || error.message || String(error) })];
    if (problem.rejections && Object.keys(problem.rejections).length) {
      parts.push(h('table', { class: 'rejections' },
        h('thead', null, h('tr', null, h('th', { text: 'Hive' }), h('th', { text: 'Why not' }))),
        h('tbody', null, Object.keys(problem.rejections).sort().map(function (hive) {
          var reason = problem.rejections[hive];
          return h('tr', { 'data-hive-id': hive },
            h('td', { class: 'mono', text: hive }),
            h('td', null, h('span', { class: 'reason reason-' + reason, text: REJECTION_TEXT[reason] || reason, title: reason })));
        }))));
    }
    if (problem.tried && Object.keys(problem.tried).length) {
      parts.push(h('ul', { class: 'tried' }, Object.keys(problem.tried).map(function (hive) {
        return h('li', null, h('span', { class: 'mono', text: hive }), ': ' + problem.tried[hive]);
      })));
    }
    if (Array.isArray(problem.errors) && problem.errors.length) {
      parts.push(h('ul', { class: 'field-errors' }, problem.errors.map(function (e) {
        return h('li', null, h('span', { class: 'mono', text: e.field }), ' ' + e.message);
      })));
    }
    return parts;
  }

  function showResult(kind, children) {
    var result = $('place-result');
    result.hidden = false;
    result.className = 'result result-' + kind;
    result.replaceChildren.apply(result, children);
  }

  // ---------------------------------------------------------------- start

  function setUpListControls() {
    $('status-filter').addEventListener('change', function (event) {
      view.status = event.target.value;
      view.offset = 0;
      refresh(true);
    });
    $('page-prev').addEventListener('click', function () {
      view.offset = Math.max(0, view.offset - PAGE_SIZE);
      refresh(true);
    });
    $('page-next').addEventListener('click', function () {
      view.offset += PAGE_SIZE;
      refresh(true);
    });
  }

  // ---------------------------------------------------------- deployments

  function loadDeployments() {
    return api('/v1/deployments?limit=100').catch(function () { return null; });
  }

  function renderDeployments(list) {
    if (!list) return;
    var items = list.items.map(function (d) {
      var s = d.status;
      var meta = d.model_id + ' · ' + gib(d.vram_bytes) +
        (s.reason ? ' · ' + (DEPLOYMENT_REASON_TEXT[s.reason] || s.reason) : ' · all ready') +
        (s.unplaced ? ' · ' + s.unplaced + ' unplaced' : '') + (s.lost ? ' · ' + s.lost + ' lost' : '');
      var minus = h('button', { class: 'btn', type: 'button', title: 'One replica less', 'aria-label': 'Scale ' + d.name + ' down', text: '−' });
      var plus = h('button', { class: 'btn', type: 'button', title: 'One replica more', 'aria-label': 'Scale ' + d.name + ' up', text: '+' });
      minus.disabled = d.replicas === 0;
      minus.addEventListener('click', function () { scaleDeployment(d.name, d.replicas - 1); });
      plus.addEventListener('click', function () { scaleDeployment(d.name, d.replicas + 1); });
      return h('li', { class: 'deployment', 'data-deployment': d.name, 'data-reason': s.reason || '' },
        h('div', null, h('span', { class: 'mono', text: d.name }), ' ',
          h('span', { class: 'ready', 'data-ready': s.ready + '/' + d.replicas, text: s.ready + '/' + d.replicas + ' ready' })),
        h('div', { class: 'scale' }, minus, plus),
        h('div', { class: 'meta', text: meta }));
    });
    var target = $('deployment-list');
    if (items.length === 0) target.replaceChildren(h('li', { class: 'empty', text: 'No deployments.' }));
    else target.replaceChildren.apply(target, items);
  }

  function scaleDeployment(name, replicas) {
    api('/v1/deployments/' + encodeURIComponent(name), { method: 'PATCH', body: { replicas: replicas } })
      .then(function () { return refresh(); })
      .catch(function (error) { showDeploymentResult('error', problemView(error)); });
  }

  function showDeploymentResult(kind, children) {
    var box = $('deployment-result');
    box.className = 'result result-' + kind;
    box.replaceChildren.apply(box, children);
    box.hidden = false;
  }

  function setUpDeploymentForm() {
    var form = $('deployment-form');
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var name = $('d-name').value.trim();
      var model = $('d-model').value.trim();
      var replicas = Number($('d-replicas').value);
      var vram = gibToBytes($('d-vram').value.trim());
      if (!name || !model || !Number.isInteger(replicas) || isNaN(vram)) {
        showDeploymentResult('error', [h('strong', { text: 'Check the form' }), h('p', { text: 'Enter a name, a model, whole replicas and the VRAM in GiB.' })]);
        return;
      }
      $('deployment-submit').disabled = true;
      api('/v1/deployments', { method: 'POST', body: { name: name, model_id: model, replicas: replicas, vram_bytes: vram } })
        .then(function (created) {
          showDeploymentResult('ok', [h('strong', { text: 'Deployment ' + created.name + ' created' }),
            h('p', { class: 'muted', text: 'The queen starts its ' + created.replicas + ' replica(s) now.' })]);
          form.reset();
          return refresh();
        })
        .catch(function (error) { showDeploymentResult('error', problemView(error)); })
        .then(function () { $('deployment-submit').disabled = false; });
    });
  }

  function start() {
    setUpTokenDialog();
    setUpPlacementForm();
    setUpDeploymentForm();
    setUpListControls();
    refresh(true).then(function () {
      if (!locked) connectEvents();
    });
    setInterval(function () {
      if (document.hidden) return;
      refresh(true);
      if (!events && !locked) scheduleReconnect();
    }, REFRESH_MS);
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden) refresh(true);
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();

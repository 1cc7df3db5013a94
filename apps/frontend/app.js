// Single-page client for the time-series API. Loaded as an external file because
// the site's Content-Security-Policy forbids inline scripts; all untrusted text is
// written with textContent, never innerHTML.
(function () {
  'use strict';

  var SVG_NS = 'http://www.w3.org/2000/svg';
  var NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
  var BUCKETS = ['1m', '5m', '1h'];
  var REQUEST_TIMEOUT_MS = 15000;
  var UNIT_MAX = 16;
  var BUCKET_LABELS = { '1m': '1 min', '5m': '5 min', '1h': '1 hour' };
  var RECENT_PAGE = 20;

  var config = { apiBaseUrl: '/api', environment: 'unknown' };
  var currentQuery = 0; // ignores responses to superseded queries

  function $(id) { return document.getElementById(id); }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function svg(tag, attrs) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    return node;
  }

  // fetchJSON resolves to {ok, status, body}; network failures and timeouts reject with a readable Error.
  function fetchJSON(url) {
    var ctrl = typeof AbortController === 'function' ? new AbortController() : null;
    var timer = ctrl ? setTimeout(function () { ctrl.abort(); }, REQUEST_TIMEOUT_MS) : null;
    return fetch(url, {
      headers: { Accept: 'application/json' },
      cache: 'no-store',
      credentials: 'same-origin',
      signal: ctrl ? ctrl.signal : undefined
    }).then(function (res) {
      var type = res.headers.get('Content-Type') || '';
      if (type.indexOf('application/json') === -1) {
        // Usually the SPA fallback answering for a missing file or route.
        return { ok: false, status: res.status, body: { error: 'expected JSON but got ' + (type || 'no content type') } };
      }
      return res.json().then(function (body) {
        return { ok: res.ok, status: res.status, body: body, retryAfter: res.headers.get('Retry-After') };
      });
    }, function (err) {
      throw new Error(err && err.name === 'AbortError' ? 'request timed out' : 'network error: ' + (err && err.message ? err.message : err));
    }).finally(function () {
      if (timer) clearTimeout(timer);
    });
  }

  function errorText(resp) {
    var msg = resp.body && typeof resp.body.error === 'string' ? resp.body.error : 'unexpected response';
    var retry = /^\d+$/.test(resp.retryAfter || '') ? ' (retry in ' + resp.retryAfter + ' s)' : '';
    return 'HTTP ' + resp.status + ': ' + msg + retry;
  }

  // Only same-origin paths are accepted: connect-src 'self' would block anything else anyway.
  function normaliseBase(v) {
    if (typeof v !== 'string' || v.charAt(0) !== '/' || v.charAt(1) === '/') return '/api';
    return v.replace(/\/+$/, '') || '/api';
  }

  function loadConfig() {
    return fetchJSON('/config.json').then(function (resp) {
      if (!resp.ok || !resp.body || typeof resp.body !== 'object') {
        throw new Error('could not load /config.json (' + errorText(resp) + ')');
      }
      config.apiBaseUrl = normaliseBase(resp.body.apiBaseUrl);
      if (typeof resp.body.environment === 'string' && resp.body.environment) {
        config.environment = resp.body.environment;
      }
    }).catch(function (err) {
      var box = $('config-error');
      box.textContent = 'Configuration problem: ' + err.message + '. Using defaults (API at /api).';
      box.hidden = false;
    });
  }

  function showEnvironment() {
    var badge = $('env');
    badge.textContent = config.environment;
    badge.className = 'badge badge-' + (/^(prod|production)$/i.test(config.environment) ? 'prod' : 'nonprod');
  }

  function checkHealth() {
    var out = $('health');
    return fetchJSON(config.apiBaseUrl + '/health').then(function (resp) {
      if (resp.ok && resp.body && resp.body.status === 'ok') {
        out.textContent = 'ok';
        out.className = 'status status-ok';
      } else {
        out.textContent = 'error (' + errorText(resp) + ')';
        out.className = 'status status-error';
      }
    }).catch(function (err) {
      out.textContent = 'unreachable (' + err.message + ')';
      out.className = 'status status-error';
    });
  }

  // --- time helpers: the form uses local time, the API RFC 3339 UTC ---

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  function toLocalInput(d) {
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) +
      'T' + pad(d.getHours()) + ':' + pad(d.getMinutes());
  }

  function fromLocalInput(v) {
    if (!v) return null;
    var d = new Date(v); // "YYYY-MM-DDTHH:MM" without zone is local time
    return isNaN(d.getTime()) ? null : d;
  }

  function toRFC3339(d) { return d.toISOString().replace(/\.\d{3}Z$/, 'Z'); }

  function parseRFC3339(v) {
    if (!v || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v)) return null;
    var d = new Date(v);
    return isNaN(d.getTime()) ? null : d;
  }

  // --- routing: /series/NAME?from=..&to=..&bucket=.. ---

  function routeFromLocation() {
    var m = /^\/series\/([^/]+)\/?$/.exec(window.location.pathname);
    var params = new URLSearchParams(window.location.search);
    var name = '';
    if (m) {
      try { name = decodeURIComponent(m[1]); } catch (e) { name = ''; }
    }
    return {
      name: name,
      from: parseRFC3339(params.get('from')),
      to: parseRFC3339(params.get('to')),
      bucket: BUCKETS.indexOf(params.get('bucket')) >= 0 ? params.get('bucket') : null,
      unit: (params.get('unit') || '').slice(0, UNIT_MAX)
    };
  }

  function routeURL(q) {
    var params = new URLSearchParams({ from: toRFC3339(q.from), to: toRFC3339(q.to), bucket: q.bucket });
    if (q.unit) params.set('unit', q.unit);
    // A trailing slash when the name has a dot: the CloudFront rewrite treats a
    // dot in the last path segment as a file and would not serve index.html.
    var slash = q.name.indexOf('.') >= 0 ? '/' : '';
    return '/series/' + encodeURIComponent(q.name) + slash + '?' + params.toString();
  }

  function fillForm(route) {
    var to = route.to || new Date();
    var from = route.from || new Date(to.getTime() - 60 * 60 * 1000);
    $('name').value = route.name;
    $('from').value = toLocalInput(from);
    $('to').value = toLocalInput(to);
    $('bucket').value = route.bucket || '1m';
    $('unit').value = route.unit || '';
  }

  function readForm() {
    var q = {
      name: $('name').value.trim(),
      from: fromLocalInput($('from').value),
      to: fromLocalInput($('to').value),
      bucket: $('bucket').value,
      unit: $('unit').value.trim().slice(0, UNIT_MAX)
    };
    if (!NAME_RE.test(q.name)) return { error: 'Series name must be 1-128 letters, digits, "_", ".", ":" or "-", starting with a letter or digit.' };
    if (!q.from || !q.to) return { error: 'Enter both a start and an end time.' };
    if (q.from >= q.to) return { error: 'The start time must be before the end time.' };
    if (BUCKETS.indexOf(q.bucket) < 0) return { error: 'Choose a bucket size.' };
    return { query: q };
  }

  // --- rendering ---

  function setMessage(text, isError) {
    var m = $('message');
    m.textContent = text || '';
    m.className = 'message' + (isError ? ' message-error' : '');
  }

  function formatNumber(v) {
    return typeof v === 'number' && isFinite(v) ? v.toLocaleString(undefined, { maximumFractionDigits: 4 }) : '–';
  }

  function renderTable(points) {
    var tbody = $('table').tBodies[0];
    var rows = document.createDocumentFragment();
    points.forEach(function (p) {
      var tr = document.createElement('tr');
      tr.appendChild(el('td', new Date(p.time).toLocaleString()));
      tr.appendChild(el('td', formatNumber(p.avg), 'num'));
      tr.appendChild(el('td', formatNumber(p.min), 'num'));
      tr.appendChild(el('td', formatNumber(p.max), 'num'));
      tr.appendChild(el('td', formatNumber(p.count), 'num'));
      rows.appendChild(tr);
    });
    tbody.replaceChildren(rows);
  }

  // --- time zone and tick helpers ---

  function timeZoneLabel() {
    var tz = '';
    try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { tz = ''; }
    var off = -new Date().getTimezoneOffset();
    var sign = off >= 0 ? '+' : '-';
    off = Math.abs(off);
    var utc = 'UTC' + sign + pad(Math.floor(off / 60)) + ':' + pad(off % 60);
    return tz && tz !== 'UTC' && tz !== 'Etc/UTC' ? tz + ', ' + utc : utc;
  }

  // niceTicks returns about n round values covering [lo, hi].
  function niceTicks(lo, hi, n) {
    var span = hi - lo;
    var raw = span / Math.max(1, n);
    var mag = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10));
    var step = [1, 2, 2.5, 5, 10].map(function (m) { return m * mag; }).filter(function (s) { return s >= raw; })[0] || 10 * mag;
    var ticks = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return ticks;
  }

  var TIME_STEPS = [60e3, 5 * 60e3, 15 * 60e3, 30 * 60e3, 3600e3, 3 * 3600e3, 6 * 3600e3, 12 * 3600e3, 86400e3, 2 * 86400e3, 7 * 86400e3];

  // timeTicks returns local-time-aligned instants between t0 and t1 (ms).
  function timeTicks(t0, t1, n) {
    var step = TIME_STEPS.filter(function (s) { return (t1 - t0) / s <= n; })[0] || TIME_STEPS[TIME_STEPS.length - 1];
    var tzOffset = new Date(t0).getTimezoneOffset() * 60e3;
    var first = Math.ceil((t0 - tzOffset) / step) * step + tzOffset;
    var out = [];
    for (var t = first; t <= t1; t += step) out.push(t);
    return { ticks: out, step: step };
  }

  function formatTick(t, step) {
    var d = new Date(t);
    var hm = pad(d.getHours()) + ':' + pad(d.getMinutes());
    if (step >= 86400e3) return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
    if (d.getHours() === 0 && d.getMinutes() === 0) return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
    return hm;
  }

  function withUnit(v, unit) { return formatNumber(v) + (unit ? '\u00a0' + unit : ''); }

  // renderChart draws the average per bucket as a line over a min–max band,
  // with value and time axes (local time zone) and a readout of the bucket
  // under the pointer or selected with the arrow keys.
  function renderChart(points, from, to, bucket, unit) {
    var W = 720, H = 280, ML = 72, MR = 16, MT = 12, MB = 44;
    var chart = $('chart');
    var root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'class': 'plot', tabindex: 0,
      'aria-label': 'Average per ' + BUCKET_LABELS[bucket] + ' bucket with min–max band; use the arrow keys to read buckets' });

    var lo = Infinity, hi = -Infinity;
    points.forEach(function (p) { lo = Math.min(lo, p.min); hi = Math.max(hi, p.max); });
    if (lo === hi) { lo -= 1; hi += 1; }
    var yt = niceTicks(lo, hi, 5);
    lo = Math.min(lo, yt[0]); hi = Math.max(hi, yt[yt.length - 1]);
    var t0 = from.getTime(), t1 = to.getTime();
    function x(t) { return ML + (W - ML - MR) * (new Date(t).getTime() - t0) / (t1 - t0); }
    function y(v) { return H - MB - (H - MT - MB) * (v - lo) / (hi - lo); }
    function f(n) { return n.toFixed(1); }

    var grid = svg('g', { 'class': 'grid' });
    var axes = svg('g', { 'class': 'axis' });
    yt.forEach(function (v) {
      grid.appendChild(svg('line', { x1: ML, x2: W - MR, y1: f(y(v)), y2: f(y(v)) }));
      var label = svg('text', { x: ML - 6, y: f(y(v)), 'text-anchor': 'end', 'dominant-baseline': 'middle' });
      label.textContent = formatNumber(v);
      axes.appendChild(label);
    });
    var xt = timeTicks(t0, t1, 7);
    xt.ticks.forEach(function (t) {
      grid.appendChild(svg('line', { x1: f(x(t)), x2: f(x(t)), y1: MT, y2: H - MB }));
      var label = svg('text', { x: f(x(t)), y: H - MB + 16, 'text-anchor': 'middle' });
      label.textContent = formatTick(t, xt.step);
      axes.appendChild(label);
    });
    axes.appendChild(svg('line', { x1: ML, x2: ML, y1: MT, y2: H - MB }));
    axes.appendChild(svg('line', { x1: ML, x2: W - MR, y1: H - MB, y2: H - MB }));
    var xTitle = svg('text', { x: ML + (W - ML - MR) / 2, y: H - 6, 'text-anchor': 'middle', 'class': 'axis-title' });
    xTitle.textContent = 'Time (' + timeZoneLabel() + ')';
    var yTitle = svg('text', { x: 14, y: MT + (H - MT - MB) / 2, 'text-anchor': 'middle', 'class': 'axis-title',
      transform: 'rotate(-90 14 ' + (MT + (H - MT - MB) / 2) + ')' });
    yTitle.textContent = (unit ? 'Value (' + unit + ')' : 'Value') + ', avg per ' + BUCKET_LABELS[bucket];
    axes.appendChild(xTitle);
    axes.appendChild(yTitle);
    root.appendChild(grid);

    var upper = points.map(function (p) { return f(x(p.time)) + ',' + f(y(p.max)); });
    var lower = points.slice().reverse().map(function (p) { return f(x(p.time)) + ',' + f(y(p.min)); });
    root.appendChild(svg('polygon', { points: upper.concat(lower).join(' '), 'class': 'band' }));
    if (points.length === 1) {
      root.appendChild(svg('circle', { cx: f(x(points[0].time)), cy: f(y(points[0].avg)), r: 3, 'class': 'dot' }));
    } else {
      root.appendChild(svg('polyline', { points: points.map(function (p) { return f(x(p.time)) + ',' + f(y(p.avg)); }).join(' '), 'class': 'line' }));
    }
    root.appendChild(axes);

    var cursor = svg('line', { x1: 0, x2: 0, y1: MT, y2: H - MB, 'class': 'cursor', visibility: 'hidden' });
    var marker = svg('circle', { cx: 0, cy: 0, r: 4, 'class': 'marker', visibility: 'hidden' });
    root.appendChild(cursor);
    root.appendChild(marker);
    var selected = -1;
    function show(i) {
      selected = Math.max(0, Math.min(points.length - 1, i));
      var p = points[selected];
      var px = f(x(p.time));
      cursor.setAttribute('x1', px); cursor.setAttribute('x2', px); cursor.setAttribute('visibility', 'visible');
      marker.setAttribute('cx', px); marker.setAttribute('cy', f(y(p.avg))); marker.setAttribute('visibility', 'visible');
      $('readout').textContent = new Date(p.time).toLocaleString() + ' (' + BUCKET_LABELS[bucket] + ' from here): avg ' +
        withUnit(p.avg, unit) + ', min ' + withUnit(p.min, unit) + ', max ' + withUnit(p.max, unit) + ', ' +
        p.count + ' point' + (p.count === 1 ? '' : 's');
    }
    function nearest(clientX) {
      var box = root.getBoundingClientRect();
      var vx = (clientX - box.left) * W / box.width;
      var t = t0 + (vx - ML) * (t1 - t0) / (W - ML - MR);
      var best = 0, bestD = Infinity;
      points.forEach(function (p, i) {
        var d = Math.abs(new Date(p.time).getTime() - t);
        if (d < bestD) { bestD = d; best = i; }
      });
      return best;
    }
    root.addEventListener('pointermove', function (ev) { show(nearest(ev.clientX)); });
    root.addEventListener('keydown', function (ev) {
      var moves = { ArrowLeft: -1, ArrowRight: 1, Home: -Infinity, End: Infinity };
      if (!(ev.key in moves)) return;
      ev.preventDefault();
      var m = moves[ev.key];
      show(isFinite(m) ? (selected < 0 ? 0 : selected + m) : (m < 0 ? 0 : points.length - 1));
    });
    chart.replaceChildren(root);
    $('readout').textContent = 'Hover over the chart (or focus it and use the arrow keys) to read a bucket.';
  }

  // --- landing page: series with recent data ---

  var recentNext = null;

  function loadRecent(after) {
    var params = new URLSearchParams({ limit: String(RECENT_PAGE) });
    if (after) params.set('after', after);
    $('recent-more').hidden = true;
    return fetchJSON(config.apiBaseUrl + '/series/list?' + params.toString()).then(function (resp) {
      if (!resp.ok) {
        setMessage('Could not list series: ' + errorText(resp), true);
        return;
      }
      var list = $('recent-list');
      if (!after) list.replaceChildren();
      var series = Array.isArray(resp.body.series) ? resp.body.series : [];
      series.forEach(function (s) {
        if (typeof s.name !== 'string' || !NAME_RE.test(s.name)) return;
        var last = new Date(s.last);
        if (isNaN(last.getTime())) return;
        var q = { name: s.name, from: new Date(last.getTime() - 3600e3), to: new Date(last.getTime() + 60e3), bucket: '1m' };
        var li = document.createElement('li');
        var a = el('a', s.name);
        a.href = routeURL(q);
        a.addEventListener('click', function (ev) {
          if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
          ev.preventDefault();
          window.history.pushState(null, '', a.getAttribute('href'));
          applyRoute();
        });
        li.appendChild(a);
        li.appendChild(el('span', 'last point ' + last.toLocaleString(), 'muted'));
        list.appendChild(li);
      });
      if (!after && series.length === 0) list.appendChild(el('li', 'No series has data from the last 7 days.', 'muted'));
      recentNext = typeof resp.body.next === 'string' ? resp.body.next : null;
      $('recent-more').hidden = !recentNext;
    }).catch(function (err) {
      setMessage('Could not list series: ' + err.message, true);
    });
  }

  function runQuery(q) {
    var id = ++currentQuery;
    var url = config.apiBaseUrl + '/series?' + new URLSearchParams({
      name: q.name, from: toRFC3339(q.from), to: toRFC3339(q.to), bucket: q.bucket
    }).toString();
    setMessage('Loading…');
    $('submit').disabled = true;
    return fetchJSON(url).then(function (resp) {
      if (id !== currentQuery) return;
      if (!resp.ok) {
        $('result').hidden = true;
        setMessage('Query failed: ' + errorText(resp), true);
        return;
      }
      var points = Array.isArray(resp.body.points) ? resp.body.points : [];
      $('result-title').textContent = q.name + ' · ' + BUCKET_LABELS[q.bucket] + ' buckets · times in ' + timeZoneLabel();
      if (points.length === 0) {
        $('result').hidden = true;
        setMessage('No data for "' + q.name + '" in this range.');
        return;
      }
      renderChart(points, q.from, q.to, q.bucket, q.unit);
      renderTable(points);
      $('result').hidden = false;
      setMessage(points.length + ' bucket' + (points.length === 1 ? '' : 's') + '.');
    }).catch(function (err) {
      if (id !== currentQuery) return;
      $('result').hidden = true;
      setMessage('Query failed: ' + err.message, true);
    }).finally(function () {
      if (id === currentQuery) $('submit').disabled = false;
    });
  }

  function applyRoute() {
    var route = routeFromLocation();
    fillForm(route);
    if (route.name) {
      $('recent').hidden = true;
      var parsed = readForm();
      if (parsed.error) setMessage(parsed.error, true);
      else runQuery(parsed.query);
    } else {
      $('result').hidden = true;
      setMessage('');
      $('recent').hidden = false;
      loadRecent(null);
    }
  }

  function onSubmit(ev) {
    ev.preventDefault();
    var parsed = readForm();
    if (parsed.error) {
      setMessage(parsed.error, true);
      return;
    }
    var url = routeURL(parsed.query);
    if (url !== window.location.pathname + window.location.search) {
      window.history.pushState(null, '', url);
    }
    $('recent').hidden = true;
    runQuery(parsed.query);
  }

  function onHome(ev) {
    if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    ev.preventDefault();
    window.history.pushState(null, '', '/');
    applyRoute();
  }

  function start() {
    $('query-form').addEventListener('submit', onSubmit);
    $('home-link').addEventListener('click', onHome);
    $('recent-more').addEventListener('click', function () { if (recentNext) loadRecent(recentNext); });
    window.addEventListener('popstate', applyRoute);
    loadConfig().then(function () {
      showEnvironment();
      checkHealth();
      applyRoute();
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();

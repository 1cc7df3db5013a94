// Single-page client for the time-series API. Loaded as an external file because
// the site's Content-Security-Policy forbids inline scripts; all untrusted text is
// written with textContent, never innerHTML.
(function () {
  'use strict';

  var SVG_NS = 'http://www.w3.org/2000/svg';
  var NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
  var BUCKETS = ['1m', '5m', '1h'];
  var REQUEST_TIMEOUT_MS = 15000;

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
        return { ok: res.ok, status: res.status, body: body };
      });
    }, function (err) {
      throw new Error(err && err.name === 'AbortError' ? 'request timed out' : 'network error: ' + (err && err.message ? err.message : err));
    }).finally(function () {
      if (timer) clearTimeout(timer);
    });
  }

  function errorText(resp) {
    var msg = resp.body && typeof resp.body.error === 'string' ? resp.body.error : 'unexpected response';
    return 'HTTP ' + resp.status + ': ' + msg;
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
      bucket: BUCKETS.indexOf(params.get('bucket')) >= 0 ? params.get('bucket') : null
    };
  }

  function routeURL(q) {
    var params = new URLSearchParams({ from: toRFC3339(q.from), to: toRFC3339(q.to), bucket: q.bucket });
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
  }

  function readForm() {
    var q = {
      name: $('name').value.trim(),
      from: fromLocalInput($('from').value),
      to: fromLocalInput($('to').value),
      bucket: $('bucket').value
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

  // renderSparkline draws the average as a line over a min–max band.
  function renderSparkline(points, from, to) {
    var W = 600, H = 120, PAD = 6;
    var chart = $('chart');
    var root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'class': 'sparkline', preserveAspectRatio: 'none' });
    var title = svg('title');
    title.textContent = 'Average per bucket with min–max range';
    root.appendChild(title);

    var lo = Infinity, hi = -Infinity;
    points.forEach(function (p) { lo = Math.min(lo, p.min); hi = Math.max(hi, p.max); });
    if (lo === hi) { lo -= 1; hi += 1; }
    var t0 = from.getTime(), t1 = to.getTime();
    function x(t) { return PAD + (W - 2 * PAD) * (new Date(t).getTime() - t0) / (t1 - t0); }
    function y(v) { return H - PAD - (H - 2 * PAD) * (v - lo) / (hi - lo); }
    function fmt(n) { return n.toFixed(1); }

    var upper = points.map(function (p) { return fmt(x(p.time)) + ',' + fmt(y(p.max)); });
    var lower = points.slice().reverse().map(function (p) { return fmt(x(p.time)) + ',' + fmt(y(p.min)); });
    root.appendChild(svg('polygon', { points: upper.concat(lower).join(' '), 'class': 'band' }));
    if (points.length === 1) {
      root.appendChild(svg('circle', { cx: fmt(x(points[0].time)), cy: fmt(y(points[0].avg)), r: 3, 'class': 'dot' }));
    } else {
      var line = points.map(function (p) { return fmt(x(p.time)) + ',' + fmt(y(p.avg)); });
      root.appendChild(svg('polyline', { points: line.join(' '), 'class': 'line' }));
    }
    chart.replaceChildren(root);
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
      $('result-title').textContent = q.name + ' · ' + q.bucket + ' buckets';
      if (points.length === 0) {
        $('result').hidden = true;
        setMessage('No data for "' + q.name + '" in this range.');
        return;
      }
      renderSparkline(points, q.from, q.to);
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
      var parsed = readForm();
      if (parsed.error) setMessage(parsed.error, true);
      else runQuery(parsed.query);
    } else {
      $('result').hidden = true;
      setMessage('');
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

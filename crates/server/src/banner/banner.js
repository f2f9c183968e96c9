// Custos consent banner (served by Custos; see crates/server/src/banner.rs and docs/banner.md).
// One script, one stylesheet, no request to anyone but the Custos server it came from. A choice
// takes effect only once Custos recorded it; until then nothing that needs consent runs.
(function () {
  'use strict';
  var me = document.currentScript;
  if (!me || !window.fetch) return;
  var base = me.src.replace(/banner\.js(\?.*)?$/, '');
  var pageLang = (me.getAttribute('data-lang') || document.documentElement.lang || navigator.language || 'nl').slice(0, 2).toLowerCase();
  var key = 'custos-consent:' + base;
  var gpc = navigator.globalPrivacyControl === true;
  var listeners = [];
  var api = {
    choices: Object.freeze({}),
    /** Whether the visitor consented to `purpose` (a purpose id of the statement). */
    allowed: function (purpose) { return api.choices[purpose] === true; },
    /** Calls `cb(choices)` now and whenever the choices change. */
    onChange: function (cb) { listeners.push(cb); try { cb(api.choices); } catch (e) { /* the page's own */ } },
    /** Opens the banner again (a "cookie settings" link on the page). */
    open: function () { if (config) show(config, true); }
  };
  window.CustosConsent = api;
  var config = null;

  function load() {
    try { return JSON.parse(localStorage.getItem(key) || 'null'); } catch (e) { return null; }
  }
  function store(v) {
    try { localStorage.setItem(key, JSON.stringify(v)); } catch (e) { /* private mode: asked again next time */ }
  }
  function visitor() {
    var s = load();
    if (s && /^[0-9a-f]{32}$/.test(s.visitor)) return s.visitor;
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x < 16 ? '0' : '') + x.toString(16); }).join('');
  }

  function apply(choices) {
    api.choices = Object.freeze(Object.assign({}, choices));
    var waiting = document.querySelectorAll('script[type="text/plain"][data-custos-purpose]');
    Array.prototype.forEach.call(waiting, function (old) {
      if (api.choices[old.getAttribute('data-custos-purpose')] !== true) return;
      var s = document.createElement('script');
      Array.prototype.forEach.call(old.attributes, function (a) { if (a.name !== 'type') s.setAttribute(a.name, a.value); });
      s.text = old.text;
      old.parentNode.replaceChild(s, old);
    });
    document.dispatchEvent(new CustomEvent('custos:consent', { detail: api.choices }));
    listeners.forEach(function (cb) { try { cb(api.choices); } catch (e) { /* the page's own */ } });
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text) e.textContent = text;
    return e;
  }

  function record(c, choices, banner) {
    var id = visitor();
    var body = JSON.stringify({ visitor: id, choices: choices, gpc: gpc, version: c.version });
    // text/plain: a simple request, no preflight; Custos reads the JSON all the same.
    return fetch(base + 'choices', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: body, credentials: 'omit' })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (answer) {
        store({ visitor: id, version: answer.version, choices: answer.choices });
        banner.remove();
        apply(answer.choices);
        reopenLink(c);
      })
      .catch(function () {
        var msg = banner.querySelector('.custos-error');
        msg.textContent = c.texts.failed;
        msg.hidden = false;
      });
  }

  function reopenLink(c) {
    if (document.getElementById('custos-reopen')) return;
    var b = el('button', { type: 'button', id: 'custos-reopen', 'class': 'custos-reopen' }, c.texts.reopen);
    b.addEventListener('click', function () { show(c, true); });
    document.body.appendChild(b);
  }

  function cookieList(c, cookies) {
    var ul = el('ul', { 'class': 'custos-cookies' });
    cookies.forEach(function (k) {
      var li = el('li');
      li.appendChild(el('code', {}, k.name));
      li.appendChild(document.createTextNode(' — ' + (k.purpose || '') + ' ' + c.texts.provider + ': ' + k.provider + '; ' + c.texts.lifetime + ': ' + k.lifetime + ' (' + k.party + ')'));
      ul.appendChild(li);
    });
    return ul;
  }

  function show(c, again) {
    var old = document.getElementById('custos-banner');
    if (old) old.remove();
    var current = (load() || {}).choices || {};
    var banner = el('section', { id: 'custos-banner', 'class': 'custos-banner', 'aria-labelledby': 'custos-title', lang: c.lang });
    banner.appendChild(el('p', { id: 'custos-title', 'class': 'custos-title' }, c.texts.title));
    var intro = el('p', {}, c.texts.intro + ' ');
    intro.appendChild(el('a', { href: base.replace(/\/banner\/[^/]+\/$/, '') + c.privacy_url }, c.texts.statement));
    banner.appendChild(intro);
    var form = el('form', { 'class': 'custos-settings' });
    form.hidden = !again;
    c.groups.forEach(function (g, i) {
      var fs = el('fieldset');
      var id = 'custos-p-' + i;
      var box = el('input', { type: 'checkbox', id: id, name: g.purpose });
      // Planet49 (C-673/17): never ticked in advance; only the visitor's own earlier choice.
      box.checked = again && current[g.purpose] === true;
      var note = null;
      if (gpc && g.gpc_refused) {
        box.checked = false;
        box.disabled = true;
        note = el('p', { 'class': 'custos-note', id: id + '-gpc' }, c.texts.gpc);
        box.setAttribute('aria-describedby', id + '-gpc');
      }
      var p = el('p', { 'class': 'custos-choice' });
      p.appendChild(box);
      p.appendChild(el('label', { 'for': id }, g.name));
      fs.appendChild(p);
      if (note) fs.appendChild(note);
      fs.appendChild(cookieList(c, g.cookies));
      form.appendChild(fs);
    });
    if (c.necessary.length) {
      var nec = el('fieldset');
      nec.appendChild(el('p', { 'class': 'custos-choice' }, c.texts.necessary));
      nec.appendChild(cookieList(c, c.necessary));
      form.appendChild(nec);
    }
    if (c.unoffered.length) {
      var un = el('fieldset');
      un.appendChild(el('p', { 'class': 'custos-choice' }, c.texts.unoffered));
      un.appendChild(cookieList(c, c.unoffered));
      form.appendChild(un);
    }
    var save = el('button', { type: 'submit', 'class': 'custos-button' }, c.texts.save);
    form.appendChild(save);
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var choices = {};
      c.groups.forEach(function (g) { choices[g.purpose] = form.elements[g.purpose].checked; });
      record(c, choices, banner);
    });
    var actions = el('p', { 'class': 'custos-actions' });
    var all = function (yes) {
      var choices = {};
      c.groups.forEach(function (g) { choices[g.purpose] = yes && !(gpc && g.gpc_refused); });
      record(c, choices, banner);
    };
    var reject = el('button', { type: 'button', 'class': 'custos-button' }, c.texts.reject);
    reject.addEventListener('click', function () { all(false); });
    var accept = el('button', { type: 'button', 'class': 'custos-button' }, c.texts.accept);
    accept.addEventListener('click', function () { all(true); });
    var settings = el('button', { type: 'button', 'class': 'custos-link', 'aria-expanded': String(!form.hidden) }, c.texts.settings);
    settings.addEventListener('click', function () {
      form.hidden = !form.hidden;
      settings.setAttribute('aria-expanded', String(!form.hidden));
    });
    actions.appendChild(reject);
    actions.appendChild(accept);
    actions.appendChild(settings);
    banner.appendChild(actions);
    banner.appendChild(form);
    var error = el('p', { 'class': 'custos-error', role: 'alert' });
    error.hidden = true;
    banner.appendChild(error);
    document.body.appendChild(banner);
  }

  function start() {
    var css = el('link', { rel: 'stylesheet', href: base + 'banner.css' });
    document.head.appendChild(css);
    fetch(base + 'config.json?lang=' + encodeURIComponent(pageLang), { credentials: 'omit' })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (c) {
        config = c;
        var saved = load();
        if (!c.groups.length) { apply({}); return; }
        if (saved && saved.version === c.version && saved.choices) {
          // Recorded before under this statement: in effect, without asking again.
          apply(saved.choices);
          reopenLink(c);
        } else {
          apply({});
          show(c, false);
        }
      })
      .catch(function () { apply({}); });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();

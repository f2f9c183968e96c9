// The building blocks of Custos's browser checks: a Chromium launched from the system (never a
// downloaded build), sessions that record every request, console error and CSP violation, and the
// steps a journey is written in (open, fill, submit, click, check). run.mjs uses them for the page
// list; a journey script (journeys/*.mjs) uses the same ones. See docs/browser-tests.md.

import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);

/** Debian's Chromium; `CUSTOS_CHROMIUM` names another binary. */
export const CHROMIUM = process.env.CUSTOS_CHROMIUM || '/usr/bin/chromium';

/** The WCAG levels every page is held to (axe-core tags). */
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

const AXE_SOURCE = require.resolve('axe-core/axe.min.js');

/** Both ways a page is opened: every page must work without JavaScript too. */
export const MODES = [
  { name: 'js', javaScript: true },
  { name: 'nojs', javaScript: false },
];

/** A headless Chromium from `CHROMIUM`. Close it when done. */
export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true });
}

/**
 * A fresh browser context on `baseURL` with JavaScript on or off, recording what the checks look
 * at. The page's Content-Security-Policy is enforced here (never bypassed): what this session sees
 * blocked, a visitor's browser blocks too.
 */
export async function openSession(browser, baseURL, { javaScript = true } = {}) {
  const context = await browser.newContext({
    baseURL,
    javaScriptEnabled: javaScript,
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(30_000);
  const session = new Session(context, baseURL, javaScript);
  if (javaScript) {
    // The event carries the directive and the blocked address; Chromium's console message (seen
    // in both modes, below) carries its own wording. Init scripts are not subject to the CSP.
    await context.exposeBinding('__custosCspViolation', (_source, v) => {
      session.cspViolations.push(
        `${v.disposition === 'report' ? 'report-only ' : ''}${v.directive} blocked ${v.blockedURI || '(inline)'} at ${v.documentURI}`,
      );
    });
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__custosCspViolation({
          directive: e.effectiveDirective || e.violatedDirective,
          blockedURI: e.blockedURI,
          documentURI: e.documentURI,
          disposition: e.disposition,
        });
      });
    });
  }
  session.page = await context.newPage();
  return session;
}

/** One browser context and its page, with what happened in it so far. */
export class Session {
  constructor(context, baseURL, javaScript) {
    this.context = context;
    this.baseURL = baseURL;
    this.javaScript = javaScript;
    this.origin = new URL(baseURL).origin;
    /** Every request the page made, as URLs. */
    this.requests = [];
    /** Requests to any origin but `baseURL`'s. */
    this.thirdParty = [];
    /** Console errors and uncaught exceptions. */
    this.consoleErrors = [];
    /** Content-Security-Policy violations (events and Chromium's console reports). */
    this.cspViolations = [];
    /** Failed checks of the steps below, as sentences. */
    this.failures = [];
    /** Documents answered with the error status a step expected: Chromium logs them as errors. */
    this.expectedErrorPages = new Set();
    context.on('request', (request) => {
      const url = request.url();
      this.requests.push(url);
      if (!isSameOrigin(url, this.origin)) this.thirdParty.push(`${request.method()} ${url}`);
    });
    context.on('console', (message) => {
      if (message.type() !== 'error' && !/Content Security Policy/i.test(message.text())) return;
      const url = message.location()?.url ?? '';
      if (/Content Security Policy/i.test(message.text())) {
        this.cspViolations.push(`${message.text()} (${url})`);
      } else {
        this.consoleErrors.push({ text: message.text(), url });
      }
    });
    context.on('weberror', (error) => this.consoleErrors.push({ text: `uncaught: ${error.error().message}`, url: '' }));
  }

  /** Opens `path` (relative to the base URL) and checks the status (200 unless given). */
  async open(path, { status = 200 } = {}) {
    const response = await this.page.goto(path, { waitUntil: 'load' });
    this.expectStatus(response, status, `GET ${path}`);
    return response;
  }

  /** Fills the form field labelled `label` (its accessible name) with `value`. */
  async fill(label, value) {
    await this.page.getByLabel(label, { exact: true }).fill(value);
  }

  /** Ticks or selects by label: a checkbox or radio button. */
  async check(label) {
    await this.page.getByLabel(label, { exact: true }).check();
  }

  /** Chooses `value` (an option's label) in the select labelled `label`. */
  async select(label, value) {
    await this.page.getByLabel(label, { exact: true }).selectOption({ label: value });
  }

  /**
   * Presses the submit button named `name` and waits for the page that answers; checks its
   * status (200 unless given; a POST-redirect-GET is followed to its end). Works with JavaScript
   * off, where only the browser's own form submission can send the form.
   */
  async submit(name, { status = 200 } = {}) {
    const answered = this.page.waitForResponse(
      (r) => r.request().isNavigationRequest() && r.frame() === this.page.mainFrame() && !isRedirect(r.status()),
    );
    // Should the click fail, the wait must not end the process as an unhandled rejection: the
    // click's own error is the one to report.
    answered.catch(() => {});
    await this.page.getByRole('button', { name, exact: true }).click();
    const response = await answered;
    await this.page.waitForLoadState('load');
    this.expectStatus(response, status, `submitting "${name}"`);
    return response;
  }

  /** Follows the link named `name`. */
  async follow(name) {
    await this.page.getByRole('link', { name, exact: true }).first().click();
    await this.page.waitForLoadState('load');
  }

  /** Checks that the page shows `text` (a string or a RegExp) somewhere visible. */
  async expectText(text) {
    const found = this.page.getByText(text).first();
    if (!(await found.isVisible())) this.failures.push(`${this.where()}: no visible text ${text}`);
  }

  /** Checks that there is a heading named `name` (a string or a RegExp). */
  async expectHeading(name) {
    if ((await this.page.getByRole('heading', { name }).count()) === 0) {
      this.failures.push(`${this.where()}: no heading ${name}`);
    }
  }

  /** Checks the address the browser shows, against a string or RegExp. */
  expectURL(expected) {
    const url = this.page.url();
    const ok = expected instanceof RegExp ? expected.test(url) : url === new URL(expected, this.baseURL).href;
    if (!ok) this.failures.push(`address is ${url}, expected ${expected}`);
  }

  /** Checks `<html lang>`. */
  async expectLang(lang) {
    const actual = await this.page.locator('html').getAttribute('lang');
    if (actual !== lang) this.failures.push(`${this.where()}: <html lang> is ${JSON.stringify(actual)}, expected "${lang}"`);
  }

  /** Checks a navigation's status; an expected error status is not also a console error. */
  expectStatus(response, status, what) {
    const actual = response ? response.status() : 'no response';
    if (actual !== status) this.failures.push(`${what}: status ${actual}, expected ${status}`);
    else if (status >= 400) this.expectedErrorPages.add(response.url());
  }

  /**
   * A full-page screenshot at `dir/name.png`. Chromium on a loaded machine sometimes answers a
   * capture with "Unable to capture screenshot" once; the capture is tried again (three times in
   * all) before that counts.
   */
  async screenshot(dir, name) {
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `${name}.png`);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.page.screenshot({ path: file, fullPage: true });
        return file;
      } catch (e) {
        if (attempt >= 3 || !/Unable to capture screenshot/.test(String(e && e.message))) throw e;
        await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
      }
    }
  }

  /**
   * Runs axe-core on the page as this session shows it now (signed in, after a form), in a
   * context of its own that may inject axe; a violation is a failure of the journey.
   */
  async axe() {
    const html = await this.page.content();
    const where = this.where();
    const found = await axeViolations(this.context.browser(), this.baseURL, this.page.url(), {
      javaScript: this.javaScript,
      html,
    });
    this.failures.push(...found.map((v) => `${where}: ${v}`));
  }

  /** Where the page is, for messages. */
  where() {
    return this.page.url().replace(this.origin, '');
  }

  /**
   * Everything wrong so far: failed checks, third-party requests, console errors, CSP
   * violations. Empty when the session is clean.
   */
  problems() {
    return [
      ...this.failures,
      ...this.thirdParty.map((r) => `third-party request: ${r}`),
      ...this.consoleErrors.filter((e) => !this.isExpected(e)).map((e) => `console error: ${e.text}${e.url ? ` (${e.url})` : ''}`),
      ...this.cspViolations.map((v) => `CSP violation: ${v}`),
    ];
  }

  /**
   * Chromium's "Failed to load resource" for a document whose error status a step expected, and
   * for the `/favicon.ico` the browser asks for on its own when a page names no icon (the page
   * did not request it; a missing icon harms no visitor).
   */
  isExpected({ text, url }) {
    if (!text.startsWith('Failed to load resource')) return false;
    return this.expectedErrorPages.has(url) || url === `${this.origin}/favicon.ico`;
  }

  async close() {
    await this.context.close();
  }
}

/**
 * axe-core's verdict on `path` under `AXE_TAGS`, one line per violation (rule, impact, target
 * selectors, help URL); empty when there is none. axe has to be injected, which the page's CSP
 * forbids, so this runs in a context of its own that bypasses the CSP, never in a session whose
 * requests and violations are checked. With `javaScript: false` it checks what a visitor without
 * JavaScript gets: the server's HTML with its scripts removed and its `<noscript>` shown (axe
 * itself needs JavaScript, so the page cannot simply be opened with it off).
 */
export async function axeViolations(browser, baseURL, path, { javaScript = true, html } = {}) {
  const context = await browser.newContext({ baseURL, bypassCSP: true, viewport: { width: 1280, height: 900 } });
  try {
    const page = await context.newPage();
    await page.route('**/*', async (route) => {
      const request = route.request();
      if (!javaScript && request.resourceType() === 'script') return route.abort();
      if (!request.isNavigationRequest()) return route.continue();
      // A page as a session saw it (signed in, after a form): its HTML, not a fresh fetch.
      if (html !== undefined) {
        return route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: javaScript ? html : withoutScripts(html) });
      }
      if (javaScript) return route.continue();
      const response = await route.fetch();
      return route.fulfill({ response, body: withoutScripts(await response.text()) });
    });
    await page.goto(path, { waitUntil: 'load' });
    await page.addScriptTag({ path: AXE_SOURCE });
    const results = await page.evaluate(
      (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }),
      AXE_TAGS,
    );
    return results.violations.map(
      (v) =>
        `axe ${v.id} (${v.impact}): ${v.help}\n      targets: ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}\n      ${v.helpUrl}`,
    );
  } finally {
    await context.close();
  }
}

/** The six-digit code of the newest message to `address` in the server's outbox (CUSTOS_OUTBOX). */
export function mailedCode(address) {
  const dir = process.env.CUSTOS_OUTBOX;
  if (!dir) throw new Error('CUSTOS_OUTBOX is not set');
  const files = readdirSync(dir).filter((f) => f.endsWith('.eml')).sort().reverse();
  for (const f of files) {
    const text = readFileSync(path.join(dir, f), 'utf8');
    if (text.includes(`To: ${address}\r\n`)) {
      const m = text.match(/code is (\d{6})/);
      if (m) return m[1];
    }
  }
  throw new Error(`no code to ${address} in ${dir}`);
}

/** The newest message to `address` in the outbox whose text matches `pattern`, or null. */
export function mailTo(address, pattern) {
  const dir = process.env.CUSTOS_OUTBOX;
  const files = readdirSync(dir).filter((f) => f.endsWith('.eml')).sort().reverse();
  for (const f of files) {
    const text = readFileSync(path.join(dir, f), 'utf8');
    if (text.includes(`To: ${address}\r\n`) && pattern.test(text)) return text;
  }
  return null;
}

/** A fresh address per journey run: the same request twice would be a duplicate of the first. */
export function freshAddress(name) {
  return `${name}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.test`;
}

/** RFC 4648 base32 (no padding) to bytes. */
function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of text.replace(/=+$/, '').toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The TOTP code of now (RFC 6238: HMAC-SHA-1, 30 s steps, 6 digits). */
export function totp(secret, at = Date.now()) {
  const step = BigInt(Math.floor(at / 1000 / 30));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(step);
  const mac = createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, '0');
}

/**
 * Signs in to the console with the account of `slot` for this session's mode: the test gives
 * every journey and mode an account of its own (CUSTOS_CONSOLE_ACCOUNTS, a JSON list of
 * `{ name, password, secret }`), since a TOTP code signs in once.
 */
export async function consoleSignIn(session, slot, lang = 'en') {
  const accounts = JSON.parse(process.env.CUSTOS_CONSOLE_ACCOUNTS || '[]');
  const account = accounts[slot * 2 + (session.javaScript ? 0 : 1)];
  if (!account) throw new Error(`no console account for slot ${slot} in CUSTOS_CONSOLE_ACCOUNTS`);
  await session.open(`/console/signin?lang=${lang}`);
  const words = lang === 'nl'
    ? ['Accountnaam', 'Wachtwoord', 'Code uit uw authenticator-app', 'Inloggen']
    : ['Account name', 'Password', 'Code from your authenticator app', 'Sign in'];
  await session.fill(words[0], account.name);
  await session.fill(words[1], account.password);
  await session.fill(words[2], totp(account.secret));
  await session.submit(words[3]);
}

/** The HTML a browser without JavaScript renders: no scripts, `<noscript>` content shown. */
function withoutScripts(html) {
  return html.replace(/<script\b[\s\S]*?<\/script\s*>/gi, '').replace(/<\/?noscript\b[^>]*>/gi, '');
}

/**
 * All checks of one page description (`{ path, lang, name, status? }`) in one mode: status,
 * `<html lang>`, axe, third-party requests, console errors, CSP violations, and a screenshot
 * `<artifacts>/<name>.<mode>.png`. Returns the problems found (empty: the page passes).
 */
export async function checkPage(browser, baseURL, spec, mode, artifacts) {
  const session = await openSession(browser, baseURL, { javaScript: mode.javaScript });
  let problems;
  try {
    await session.open(spec.path, { status: spec.status ?? 200 });
    if (spec.lang) await session.expectLang(spec.lang);
    await session.screenshot(artifacts, `${spec.name}.${mode.name}`);
    problems = session.problems();
  } catch (error) {
    problems = [...session.problems(), `could not be checked: ${firstLine(error)}`];
  } finally {
    await session.close();
  }
  try {
    problems.push(...(await axeViolations(browser, baseURL, spec.path, { javaScript: mode.javaScript })));
  } catch (error) {
    problems.push(`axe could not run: ${firstLine(error)}`);
  }
  return problems;
}

/**
 * Runs a journey (a module whose default export is `async (session) => {}`, see journeys/) in
 * one mode, with a screenshot of where it ends. Returns the problems found.
 */
export async function runJourney(browser, baseURL, spec, mode, artifacts, baseDir) {
  const { default: journey } = await import(new URL(spec.journey, `file://${baseDir}/`).href);
  const session = await openSession(browser, baseURL, { javaScript: mode.javaScript });
  try {
    await journey(session);
    await session.screenshot(artifacts, `${spec.name}.${mode.name}`);
    return session.problems();
  } catch (error) {
    return [...session.problems(), `stopped at ${session.where()}: ${firstLine(error)}`];
  } finally {
    await session.close();
  }
}

function isSameOrigin(url, origin) {
  if (/^(data|blob|about):/.test(url)) return true;
  try {
    return new URL(url).origin === origin;
  } catch {
    return false;
  }
}

function isRedirect(status) {
  return status >= 300 && status < 400;
}

function firstLine(error) {
  return String(error?.message ?? error).split('\n')[0];
}

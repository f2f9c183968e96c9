// A privacy officer signs in to the console (name, password and a code from their authenticator,
// computed here from the account's TOTP secret, RFC 6238) and goes through the oversight pages in
// Dutch and English: retention (places a legal hold and releases it again, runs the purge's dry
// run), the audit trail (verifies the chain) and the policy. The account comes from the test
// (CUSTOS_CONSOLE_NAME, CUSTOS_CONSOLE_PASSWORD, CUSTOS_CONSOLE_SECRET as base32).
//
// Pages behind a sign-in are not in the runner's page list, so this journey runs axe-core
// (WCAG 2.2 AA, the runner's tags) on each page itself: in a context of its own that carries the
// session's cookie and bypasses the CSP to inject axe, never in the session whose requests,
// console and CSP violations the runner checks.

import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { AXE_TAGS } from '../lib.mjs';

const require = createRequire(import.meta.url);
const AXE_SOURCE = require.resolve('axe-core/axe.min.js');

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

/** The TOTP code of `at` (RFC 6238: HMAC-SHA-1, 30 s steps, 6 digits). */
function totp(secret, at = Date.now()) {
  const step = BigInt(Math.floor(at / 1000 / 30));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(step);
  const mac = createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, '0');
}

/**
 * Waits for a 30-second step no journey of this run has signed in with: a code is taken once,
 * and the queue journey signs in with the same account just before this one.
 */
async function freshStep() {
  const wait = 30_000 - (Date.now() % 30_000) + 200;
  await new Promise((r) => setTimeout(r, wait));
}

/** axe-core's WCAG 2.2 AA verdict on `path` as the signed-in officer sees it; `then` acts first. */
async function axe(session, path, then) {
  const context = await session.context.browser().newContext({
    baseURL: session.baseURL,
    bypassCSP: true,
    viewport: { width: 1280, height: 900 },
  });
  try {
    await context.addCookies(await session.context.cookies());
    const page = await context.newPage();
    await page.goto(path, { waitUntil: 'load' });
    if (then) await then(page);
    await page.addScriptTag({ path: AXE_SOURCE });
    const results = await page.evaluate(
      (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }),
      AXE_TAGS,
    );
    for (const v of results.violations) {
      session.failures.push(
        `${path}: axe ${v.id} (${v.impact}): ${v.help}\n      targets: ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`,
      );
    }
  } finally {
    await context.close();
  }
}

/** Opens `path`, checks its language and heading, and runs axe on it. */
async function visit(session, path, lang, heading) {
  await session.open(path);
  await session.expectLang(lang);
  await session.expectHeading(heading);
  await axe(session, path);
}

/** @param {import('../lib.mjs').Session} session */
export default async function consoleOversight(session) {
  const { CUSTOS_CONSOLE_NAME: name, CUSTOS_CONSOLE_PASSWORD: password, CUSTOS_CONSOLE_SECRET: secret } = process.env;
  if (!name || !password || !secret) throw new Error('the console account is not in the environment');
  await session.open('/console/signin?lang=en');
  await session.fill('Account name', name);
  await session.fill('Password', password);
  await freshStep();
  await session.fill('Code from your authenticator app', totp(secret));
  await session.submit('Sign in');
  await session.expectHeading('Requests by due date');

  // Retention, in Dutch: a hold placed and released again, and the purge's dry run.
  await visit(session, '/console/retention?lang=nl', 'nl', 'Bewaartermijnen en bewaarplichten');
  await session.fill('Reden', 'zaak 2026-17');
  await session.submit('Bewaarplicht instellen');
  await session.expectText('zaak 2026-17');
  await axe(session, '/console/retention?lang=nl');
  const release = await session.page.locator('form[action*="/release"] button').first().getAttribute('aria-label');
  await session.submit(release);
  await session.expectText('Er geldt geen juridische bewaarplicht.');
  await session.submit('Proefdraaien: wat zou een opschoning nu verwijderen?');
  await session.expectHeading('Proefdraaien van de opschoning');
  await axe(session, '/console/retention/dry-run?lang=nl');
  await visit(session, '/console/retention?lang=en', 'en', 'Retention and legal holds');

  // The audit trail, in English: the chain verified.
  await visit(session, '/console/audit?lang=en', 'en', 'Audit trail');
  await session.submit('Verify the chain');
  await session.expectHeading('Verification of the audit trail');
  await session.expectText(/The chain is intact/);
  await axe(session, '/console/audit?lang=en', (page) =>
    Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Verify the chain', exact: true }).click()]),
  );
  await visit(session, '/console/audit?lang=nl', 'nl', 'Audittrail');

  // The policy, in both languages.
  await visit(session, '/console/policy?lang=nl', 'nl', 'Privacybeleid');
  await visit(session, '/console/policy?lang=en', 'en', 'Privacy policy');
}

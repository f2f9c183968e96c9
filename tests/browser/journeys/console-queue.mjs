// A privacy officer signs in to the console with name, password and a code from their
// authenticator (computed here from the account's TOTP secret, RFC 6238), sees the request queue
// by due date and opens a request. The account comes from the test (CUSTOS_CONSOLE_NAME,
// CUSTOS_CONSOLE_PASSWORD, CUSTOS_CONSOLE_SECRET as base32).

import { createHmac } from 'node:crypto';

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
function totp(secret, at = Date.now()) {
  const step = BigInt(Math.floor(at / 1000 / 30));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(step);
  const mac = createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, '0');
}

/** The step of the code the last run used: a code is taken once (no replay). */
let lastStep = -1;

/** @param {import('../lib.mjs').Session} session */
export default async function consoleQueue(session) {
  const { CUSTOS_CONSOLE_NAME: name, CUSTOS_CONSOLE_PASSWORD: password, CUSTOS_CONSOLE_SECRET: secret } = process.env;
  if (!name || !password || !secret) throw new Error('the console account is not in the environment');
  await session.open('/console/signin?lang=en');
  await session.fill('Account name', name);
  await session.fill('Password', password);
  // A code is taken once: a second run in the same 30-second step waits for the next one.
  if (Math.floor(Date.now() / 30_000) === lastStep) {
    await new Promise((r) => setTimeout(r, 30_000 - (Date.now() % 30_000) + 200));
  }
  lastStep = Math.floor(Date.now() / 30_000);
  await session.fill('Code from your authenticator app', totp(secret));
  await session.submit('Sign in');
  await session.expectHeading('Requests by due date');
}

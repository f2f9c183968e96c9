// A data subject makes an access request in the privacy center, reads the code from the e-mail
// (the server's outbox directory, CUSTOS_OUTBOX), confirms it and sees the request's status with
// its due date explained; then cancels it. With and without JavaScript: the center has none.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The six-digit code of the newest message to `address` in the outbox. */
function codeFor(address) {
  const dir = process.env.CUSTOS_OUTBOX;
  if (!dir) throw new Error('CUSTOS_OUTBOX is not set');
  const files = readdirSync(dir).filter((f) => f.endsWith('.eml')).sort().reverse();
  for (const f of files) {
    const text = readFileSync(join(dir, f), 'utf8');
    if (text.includes(`To: ${address}\r\n`)) {
      const m = text.match(/code is (\d{6})/);
      if (m) return m[1];
    }
  }
  throw new Error(`no message to ${address} in ${dir}`);
}

/** @param {import('../lib.mjs').Session} session */
export default async function centerRequest(session) {
  // A fresh address per run: the same request twice would be a duplicate of the first.
  const address = `ann-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.test`;
  await session.open('/center/acme?lang=en');
  await session.check('See my data (access, Art. 15)');
  await session.fill('Your e-mail address', address);
  await session.submit('Send request');
  await session.expectHeading('Check your e-mail');
  await session.fill('Code from the e-mail', codeFor(address));
  await session.submit('Confirm');
  await session.expectHeading('Your request');
  await session.expectText('Your identity was confirmed');
  await session.expectText('How this date was counted');
  await session.submit('Cancel this request');
  await session.expectText('Cancelled at your request');
}

// A privacy officer signs in to the console with name, password and a code from their
// authenticator (computed here from the account's TOTP secret, RFC 6238), sees the request queue
// by due date, in English and in Dutch.

import { consoleSignIn } from '../lib.mjs';

/** @param {import('../lib.mjs').Session} session */
export default async function consoleQueue(session) {
  await consoleSignIn(session, 0);
  await session.expectHeading('Requests by due date');
  await session.axe();
  await session.open('/console/requests?lang=nl');
  await session.expectLang('nl');
  await session.axe();
}

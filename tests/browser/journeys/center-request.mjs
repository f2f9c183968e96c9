// A data subject makes an access request in the privacy center, reads the code from the e-mail
// (the server's outbox directory, CUSTOS_OUTBOX), confirms it and sees the request's status with
// its due date explained; then cancels it. With and without JavaScript: the center has none.

import { freshAddress, mailedCode } from '../lib.mjs';

/** @param {import('../lib.mjs').Session} session */
export default async function centerRequest(session) {
  const address = freshAddress('ann');
  await session.open('/center/acme?lang=en');
  await session.check('See my data (access, Art. 15)');
  await session.fill('Your e-mail address', address);
  await session.submit('Send request');
  await session.expectHeading('Check your e-mail');
  await session.fill('Code from the e-mail', mailedCode(address));
  await session.submit('Confirm');
  await session.expectHeading('Your request');
  await session.expectText('Your identity was confirmed');
  await session.expectText('How this date was counted');
  await session.submit('Cancel this request');
  await session.expectText('Cancelled at your request');
}

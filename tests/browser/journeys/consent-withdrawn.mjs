// A data subject who gave a consent (recorded by the app before the run, CUSTOS_CONSENT_SUBJECTS
// names one address per mode) signs in to the privacy center with a mailed code, sees the
// consent with its basis and withdraws it with one button (Art. 7(3)); the app's decision call
// then answers "deny".

import { mailedCode } from '../lib.mjs';

/** @param {import('../lib.mjs').Session} session */
export default async function consentWithdrawn(session) {
  const [forJs, forNoJs] = JSON.parse(process.env.CUSTOS_CONSENT_SUBJECTS || '[]');
  const address = session.javaScript ? forJs : forNoJs;
  const key = process.env.CUSTOS_APP_KEY;
  if (!address || !key) throw new Error('CUSTOS_CONSENT_SUBJECTS or CUSTOS_APP_KEY is not set');
  const decide = async () => {
    const r = await fetch(new URL('/v1/decisions', session.baseURL), {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subject: address, purpose: 'style_learning', category: 'style_profile' }),
    });
    return (await r.json()).allowed;
  };
  if ((await decide()) !== true) session.failures.push('the consent was not given before the run');
  await session.open('/center/acme/signin?lang=en');
  await session.fill('Your e-mail address', address);
  await session.submit('Send me a code');
  await session.fill('Code from the e-mail', mailedCode(address));
  await session.submit('Confirm');
  await session.expectHeading('Your requests and consents');
  await session.axe();
  await session.page.getByRole('button', { name: /^Withdraw/ }).first().click();
  await session.page.waitForLoadState('load');
  await session.expectText('Withdrawn');
  await session.axe();
  if ((await decide()) !== false) session.failures.push('the decision call still allows after the withdrawal');
}

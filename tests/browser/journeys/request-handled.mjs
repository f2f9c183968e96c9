// The whole way of an access request, in one browser: a data subject files it in Dutch in the
// privacy center and confirms the mailed code; the privacy officer signs in to the console,
// extends it after reading the letter the subject will get, and releases the answer; the
// subject's page shows the new due date and, after a fresh code, the answer downloads as a zip.
// axe-core checks every page on the way, as the visitor saw it.

import { consoleSignIn, freshAddress, mailTo, mailedCode } from '../lib.mjs';

/** @param {import('../lib.mjs').Session} session */
export default async function requestHandled(session) {
  const address = freshAddress('bo');
  await session.open('/center/acme?lang=nl');
  await session.check('Mijn gegevens inzien (inzage, art. 15)');
  await session.fill('Uw e-mailadres', address);
  await session.submit('Verzoek versturen');
  await session.expectHeading('Kijk in uw e-mail');
  await session.axe();
  await session.fill('Code uit de e-mail', mailedCode(address));
  await session.submit('Bevestigen');
  await session.expectHeading('Uw verzoek');
  await session.axe();
  const statusPath = new URL(session.page.url()).pathname;
  const id = statusPath.split('/')[4];
  const dueBefore = await session.page.locator('dd time').nth(1).getAttribute('datetime');

  // The privacy officer, in English.
  await consoleSignIn(session, 1);
  await session.open(`/console/requests/${id}?lang=en`);
  await session.expectHeading(/^Request: /);
  await session.axe();
  await session.fill('Reason (told to the requester)', 'Wij doorzoeken drie systemen.');
  await session.submit('Preview the extension letter');
  await session.expectHeading('Letter: extension of the period (Art. 12(3))');
  await session.expectText('Onze reden: Wij doorzoeken drie systemen.');
  await session.axe();
  await session.submit('Extend and send this letter');
  await session.expectText('Wij doorzoeken drie systemen.');
  await session.submit('Release the answer');
  await session.expectText('Answer released to the requester');
  await session.axe();
  if (!mailTo(address, /Uw antwoord staat klaar/)) session.failures.push('no "answer ready" mail to the subject');

  // The subject's page: the extended due date, and the download after a fresh code.
  await session.open(`${statusPath}?lang=nl`);
  const dueAfter = await session.page.locator('dd time').nth(1).getAttribute('datetime');
  if (!(dueAfter > dueBefore)) session.failures.push(`the due date did not move: ${dueBefore} → ${dueAfter}`);
  await session.expectText('Wij hebben de termijn met twee maanden verlengd');
  await session.axe();
  await session.submit('Stuur mij een code om te downloaden');
  await session.axe();
  await session.fill('Code uit de e-mail', mailedCode(address));
  const download = session.page.waitForEvent('download');
  await session.page.getByRole('button', { name: 'Bevestigen', exact: true }).click();
  const file = await (await download).path();
  const { readFileSync } = await import('node:fs');
  const zip = readFileSync(file);
  if (zip.subarray(0, 2).toString() !== 'PK') session.failures.push('the download is no zip archive');
  await session.open(`${statusPath}?lang=nl`);
  await session.expectText('Afgehandeld');
}

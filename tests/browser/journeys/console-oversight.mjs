// A privacy officer signs in to the console (name, password and a code from their authenticator,
// computed from the account's TOTP secret, RFC 6238) and goes through the oversight pages in
// Dutch and English: retention (places a legal hold and releases it again, runs the purge's dry
// run), the audit trail (verifies the chain) and the policy; axe-core checks each page as the
// officer saw it (`session.axe()`).

import { consoleSignIn } from '../lib.mjs';

/** Opens `path`, checks its language and heading, and runs axe on it. */
async function visit(session, path, lang, heading) {
  await session.open(path);
  await session.expectLang(lang);
  await session.expectHeading(heading);
  await session.axe();
}

/** @param {import('../lib.mjs').Session} session */
export default async function consoleOversight(session) {
  await consoleSignIn(session, 2);
  await session.expectHeading('Requests by due date');

  // Retention, in Dutch: a hold placed and released again, and the purge's dry run.
  await visit(session, '/console/retention?lang=nl', 'nl', 'Bewaartermijnen en bewaarplichten');
  await session.fill('Reden', 'zaak 2026-17');
  await session.submit('Bewaarplicht instellen');
  await session.expectText('zaak 2026-17');
  await session.axe();
  const release = await session.page.locator('form[action*="/release"] button').first().getAttribute('aria-label');
  await session.submit(release);
  await session.expectText('Er geldt geen juridische bewaarplicht.');
  await session.submit('Proefdraaien: wat zou een opschoning nu verwijderen?');
  await session.expectHeading('Proefdraaien van de opschoning');
  await session.axe();
  await visit(session, '/console/retention?lang=en', 'en', 'Retention and legal holds');

  // The audit trail, in English: the chain verified.
  await visit(session, '/console/audit?lang=en', 'en', 'Audit trail');
  await session.submit('Verify the chain');
  await session.expectHeading('Verification of the audit trail');
  await session.expectText(/The chain is intact/);
  await session.axe();
  await visit(session, '/console/audit?lang=nl', 'nl', 'Audittrail');

  // The policy, in both languages.
  await visit(session, '/console/policy?lang=nl', 'nl', 'Privacybeleid');
  await visit(session, '/console/policy?lang=en', 'en', 'Privacy policy');
}

// A privacy officer signs in to the console and works a personal-data breach through the
// register (Arts 33 and 34 GDPR): records it with its awareness time (Amsterdam time) and kind,
// opens it to see the 72-hour deadline and Custos's proposal, decides with reasons, and opens the
// draft notification to the Autoriteit Persoonsgegevens and the letter in Dutch and English;
// axe-core checks each page as the officer saw it (`session.axe()`).

import { consoleSignIn } from '../lib.mjs';

/** An hour ago in Amsterdam time, as a `datetime-local` field takes it (`2026-03-02T10:30`). */
function anHourAgo() {
  const parts = new Intl.DateTimeFormat('sv-SE', {
    timeZone: 'Europe/Amsterdam',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(new Date(Date.now() - 60 * 60 * 1000));
  return parts.replace(' ', 'T');
}

/** @param {import('../lib.mjs').Session} session */
export default async function consoleBreaches(session) {
  await consoleSignIn(session, 3);
  await session.expectHeading('Requests by due date');

  // The register, in English: empty, with the form to record a breach.
  await session.open('/console/breaches?lang=en');
  await session.expectLang('en');
  await session.expectHeading('Breach register');
  await session.axe();
  await session.fill('Aware since', anHourAgo());
  await session.check('Confidentiality: personal data disclosed or accessed without authorisation');
  await session.fill('What happened', 'An export of customer contact details was e-mailed to one wrong customer.');
  await session.fill('How it was discovered', 'The customer told us.');
  await session.submit('Record breach');

  // The breach's page: the clock, the record and the proposal.
  await session.expectHeading(/^Breach /);
  await session.expectText(/h \d+ min left: the deadline is/);
  await session.expectHeading("Custos's proposal");
  await session.axe();

  // The decision, as proposed, with the reasons.
  await session.fill('Reasons', 'Contact details of one export, sent to one customer who deleted it: decided as proposed.');
  await session.submit('Record decision');
  await session.expectText('Decided by');
  await session.axe();
  const breachPage = session.page.url();

  // The drafts, in both languages.
  await session.follow('in Dutch');
  await session.expectLang('nl');
  await session.expectHeading('Melding aan de Autoriteit Persoonsgegevens (concept)');
  await session.expectHeading('Brief aan de betrokkenen (art. 34 lid 2)');
  await session.axe();
  await session.open(`${new URL(breachPage).pathname}/draft?lang=en`);
  await session.expectLang('en');
  await session.expectHeading('Notification to the Autoriteit Persoonsgegevens (draft)');
  await session.axe();

  // The register in Dutch lists the breach.
  await session.open('/console/breaches?lang=nl');
  await session.expectLang('nl');
  await session.expectHeading('Register van datalekken');
  await session.expectText('Besloten: toezichthouder');
  await session.axe();
}

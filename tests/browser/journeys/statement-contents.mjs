// A reader finds who receives their data from the statement's table of contents, with or without
// JavaScript: the pattern every journey follows (steps and checks from ../lib.mjs).

/** @param {import('../lib.mjs').Session} session */
export default async function statementContents(session) {
  await session.open('/privacy?lang=en');
  await session.follow('Who receives personal data');
  session.expectURL(/#recipients$/);
  await session.expectHeading('Who receives personal data');
}

// Checks Custos's web pages in Debian's Chromium, each with JavaScript on and off.
//
//   node tests/browser/run.mjs BASE_URL [PAGES.json | -] [ARTIFACTS_DIR]
//
// PAGES.json (standard input when absent or `-`) is a list of pages and journeys:
//   [{ "path": "/privacy?lang=nl", "lang": "nl", "name": "statement-nl" },
//    { "path": "/nothing", "lang": "en", "name": "not-found", "status": 404 },
//    { "journey": "journeys/statement-contents.mjs", "name": "statement-contents" }]
// A page passes when its status is 200 (or `status`), `<html lang>` is `lang`, axe-core finds no
// WCAG 2.2 AA violation, it requests nothing from another origin, and it logs no console error and
// no Content-Security-Policy violation. A journey (path relative to this folder) passes when its
// own checks pass and the same requests, console and CSP rules hold. A full-page screenshot of
// each goes to ARTIFACTS_DIR (else $CUSTOS_BROWSER_ARTIFACTS, else target/browser-artifacts) as
// NAME.js.png and NAME.nojs.png. Exits 1 when anything failed, 2 on a usage error.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkPage, launch, MODES, runJourney } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

function usage(message) {
  console.error(`run.mjs: ${message}\nusage: node run.mjs BASE_URL [PAGES.json | -] [ARTIFACTS_DIR]`);
  process.exit(2);
}

async function readAll(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** The page list, checked for what run.mjs needs before a browser starts. */
function parseList(text, source) {
  let list;
  try {
    list = JSON.parse(text);
  } catch (error) {
    usage(`${source} is not JSON: ${error.message}`);
  }
  if (!Array.isArray(list) || list.length === 0) usage(`${source} must be a non-empty JSON array`);
  const names = new Set();
  list.forEach((item, i) => {
    const at = `${source}[${i}]`;
    if (typeof item?.name !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(item.name)) {
      usage(`${at}: "name" must be lowercase letters, digits and hyphens (it names the screenshots)`);
    }
    if (names.has(item.name)) usage(`${at}: the name "${item.name}" is used twice`);
    names.add(item.name);
    if (typeof item.journey === 'string') return;
    if (typeof item.path !== 'string' || !item.path.startsWith('/')) usage(`${at}: "path" must start with /`);
    if (typeof item.lang !== 'string') usage(`${at}: "lang" (the expected <html lang>) is missing`);
    if (item.status !== undefined && !Number.isInteger(item.status)) usage(`${at}: "status" must be a number`);
  });
  return list;
}

const [baseArg, listArg, artifactsArg] = process.argv.slice(2);
if (!baseArg) usage('BASE_URL is missing');
let baseURL;
try {
  baseURL = new URL(baseArg).href;
} catch {
  usage(`${baseArg} is not a URL`);
}
const fromStdin = !listArg || listArg === '-';
const list = parseList(
  fromStdin ? await readAll(process.stdin) : readFileSync(listArg, 'utf8'),
  fromStdin ? 'standard input' : listArg,
);
const artifacts = path.resolve(artifactsArg || process.env.CUSTOS_BROWSER_ARTIFACTS || 'target/browser-artifacts');

const started = Date.now();
const browser = await launch();
const failed = [];
let checked = 0;
try {
  for (const item of list) {
    for (const mode of MODES) {
      const t = Date.now();
      const problems = item.journey
        ? await runJourney(browser, baseURL, item, mode, artifacts, here)
        : await checkPage(browser, baseURL, item, mode, artifacts);
      checked += 1;
      const label = `${item.name} (${item.journey ?? item.path}, JavaScript ${mode.javaScript ? 'on' : 'off'})`;
      console.log(`${problems.length ? 'FAIL' : 'ok  '} ${label} ${((Date.now() - t) / 1000).toFixed(1)} s`);
      if (problems.length) failed.push({ label, problems });
    }
  }
} finally {
  await browser.close();
}

const seconds = ((Date.now() - started) / 1000).toFixed(1);
if (failed.length) {
  console.log(`\n${failed.length} of ${checked} page views failed:`);
  for (const { label, problems } of failed) {
    console.log(`\n${label}`);
    for (const p of problems) console.log(`  - ${p}`);
  }
}
console.log(`\nbrowser checks: ${checked - failed.length} of ${checked} page views clean in ${seconds} s; screenshots in ${artifacts}`);
process.exitCode = failed.length ? 1 : 0;

// A visitor of a webshop's own site (served here by a small server of the journey's own on
// 127.0.0.1, another origin than Custos)
// meets the consent banner Custos serves (CUSTOS_SHOP_SERVER runs examples/policies/webshop.toml):
// nothing that needs consent runs before a choice; "Reject all" is as easy as "Accept all" and
// sits beside it; no box is ticked in advance (CJEU C-673/17 Planet49); the choice is recorded in
// Custos's consent ledger before it counts and kept across visits; choosing analytics later runs
// the analytics script only; a browser sending Global Privacy Control gets no marketing even on
// "Accept all". No request goes anywhere but the shop and Custos. With JavaScript off nothing
// that needs consent runs at all.

import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { AXE_TAGS } from '../lib.mjs';

const require = createRequire(import.meta.url);
const AXE_SOURCE = require.resolve('axe-core/axe.min.js');

function shopPage(custos, SHOP) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Korenbloem Wonen</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<script src="${custos}/banner/korenbloem/banner.js" defer></script></head>
<body><main><h1>Korenbloem Wonen</h1><p>Chairs, tables and lamps.</p></main>
<script type="text/plain" data-custos-purpose="analytics" src="${SHOP}/ga.js"></script>
<script type="text/plain" data-custos-purpose="targeting">window.__ads = true;</script>
</body></html>`;
}

/** The shop's own server on a free port: the page, and the analytics script counted in `loads`. */
async function startShop(custos, loads) {
  let shop = '';
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (url.pathname === '/ga.js') {
      loads.ga += 1;
      res.writeHead(200, { 'content-type': 'text/javascript' }).end('window.__ga = true;');
    } else if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(shopPage(custos, shop));
    } else {
      res.writeHead(204).end();
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  shop = `http://127.0.0.1:${server.address().port}`;
  return { server, shop };
}

async function axeOn(page, failures, where) {
  await page.addScriptTag({ path: AXE_SOURCE });
  const result = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }),
    AXE_TAGS,
  );
  for (const v of result.violations) {
    failures.push(`${where}: axe ${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`);
  }
}

/** @param {import('../lib.mjs').Session} session */
export default async function consentBanner(session) {
  const custos = (process.env.CUSTOS_SHOP_SERVER || '').replace(/\/$/, '');
  const key = process.env.CUSTOS_SHOP_KEY;
  if (!custos || !key) throw new Error('CUSTOS_SHOP_SERVER or CUSTOS_SHOP_KEY is not set');
  const loads = { ga: 0 };
  const { server, shop } = await startShop(custos, loads);
  const allowed = new Set([shop, new URL(custos).origin, session.origin]);
  try {
    await visit(session, custos, key, allowed, shop, loads);
  } finally {
    server.close();
    // The shop and the Custos it uses are the page's own parties here; anything else is not.
    session.thirdParty = session.thirdParty.filter((r) => !allowed.has(new URL(r.split(' ')[1]).origin));
  }
}

async function visit(session, custos, key, allowed, SHOP, loads) {
  const page = session.page;
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${SHOP}/`, { waitUntil: 'load' });
  const fail = (what) => session.failures.push(`shop: ${what}`);

  if (!session.javaScript) {
    if (loads.ga !== 0) fail('the analytics script ran with JavaScript off');
    if (await page.locator('#custos-banner').count()) fail('a banner without JavaScript');
  } else {
    const reject = page.getByRole('button', { name: 'Reject all', exact: true });
    const accept = page.getByRole('button', { name: 'Accept all', exact: true });
    await reject.waitFor();
    if (loads.ga !== 0 || (await page.evaluate(() => window.__ads === true))) fail('a tracker ran before any choice');
    if (!(await accept.isVisible())) fail('"Accept all" is not beside "Reject all"');
    const [rc, ac] = [await reject.getAttribute('class'), await accept.getAttribute('class')];
    if (rc !== ac) fail(`"Reject all" looks unlike "Accept all" (${rc} vs ${ac})`);
    await axeOn(page, session.failures, 'shop with banner');
    // The settings: nothing ticked in advance.
    await page.getByRole('button', { name: 'Choose for myself', exact: true }).click();
    const boxes = page.locator('#custos-banner input[type=checkbox]');
    if ((await boxes.count()) < 2) fail('the settings offer fewer than two purposes');
    for (let i = 0; i < (await boxes.count()); i += 1) {
      if (await boxes.nth(i).isChecked()) fail('a box is ticked in advance');
    }
    await axeOn(page, session.failures, 'shop with banner settings');

    // Reject all: recorded, nothing runs, kept across visits.
    await reject.click();
    await page.waitForFunction(() => !document.getElementById('custos-banner'));
    const saved = await page.evaluate(() => JSON.parse(Object.entries(localStorage).find(([k]) => k.startsWith('custos-consent:'))[1]));
    if (!/^[0-9a-f]{32}$/.test(saved.visitor)) fail(`no visitor id kept: ${JSON.stringify(saved)}`);
    if (saved.choices.analytics !== false || saved.choices.targeting !== false) fail(`reject all kept ${JSON.stringify(saved.choices)}`);
    await page.reload({ waitUntil: 'load' });
    await page.getByRole('button', { name: 'Cookie settings', exact: true }).waitFor();
    if (await page.locator('#custos-banner').count()) fail('the banner asks again after a recorded choice');
    if (loads.ga !== 0) fail('analytics ran after "Reject all"');

    // Analytics later, from the settings: only the analytics script runs.
    await page.getByRole('button', { name: 'Cookie settings', exact: true }).click();
    await page.getByLabel('Website statistics and improvement', { exact: true }).check();
    await page.getByRole('button', { name: 'Save my choice', exact: true }).click();
    await page.waitForFunction(() => window.__ga === true);
    if (await page.evaluate(() => window.__ads === true)) fail('the targeting script ran without consent');
    if (!(await page.evaluate(() => window.CustosConsent.allowed('analytics')))) fail('the page is not told analytics is allowed');

    // The ledger holds it, under the visitor's id (Art. 7(1): the controller can show it).
    const state = await fetch(`${custos}/v1/consent/state`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subject: `visitor:${saved.visitor}` }),
    }).then((r) => r.json());
    const of = (p) => state.purposes?.find((x) => x.purpose === p)?.consent?.state;
    if (of('analytics') !== 'granted' || of('targeting') !== 'never') fail(`the ledger says ${JSON.stringify(state)}`);

    // Global Privacy Control: "Accept all" leaves marketing off.
    const gpcContext = await session.context.browser().newContext();
    await gpcContext.addInitScript(() => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true }));
    gpcContext.on('request', (r) => {
      if (!allowed.has(new URL(r.url()).origin)) fail(`request to ${r.url()}`);
    });
    const gpcPage = await gpcContext.newPage();
    await gpcPage.goto(`${SHOP}/`, { waitUntil: 'load' });
    await gpcPage.getByRole('button', { name: 'Accept all', exact: true }).click();
    await gpcPage.waitForFunction(() => window.__ga === true);
    if (await gpcPage.evaluate(() => window.__ads === true)) fail('GPC: the targeting script ran after "Accept all"');
    if (await gpcPage.evaluate(() => window.CustosConsent.allowed('targeting'))) fail('GPC: targeting allowed');
    await gpcContext.close();
  }
}

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { IPublishPacket } from 'mqtt';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { createBroker, type RunningBroker } from '../../src/broker/index.js';
import { createDashboardHandler, startDashboardServer } from '../../src/dashboard/index.js';
import { linkProfile } from '../../src/link/index.js';
import { startFleet, startIngest, type Fleet, type Ingest } from '../../src/telemetry/index.js';
import { connectClient, end } from '../helpers/clients.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** The repository root (this file runs compiled from dist/test/… or another outDir). */
const REPO = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6 && !existsSync(join(dir, 'src', 'dashboard', 'public', 'index.html')); i++) dir = dirname(dir);
  return dir;
})();
const DEVICES = 6;
/** `MQTTLAB_UPDATE_SCREENSHOTS=1 npm test` also refreshes docs/img/ (a plain test run leaves the tree alone). */
const UPDATE_DOCS = process.env.MQTTLAB_UPDATE_SCREENSHOTS === '1';

/** GET over loopback; status and body as text. */
async function get(url: string): Promise<{ status: number; type: string; body: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: response.status, type: response.headers.get('content-type') ?? '', body: await response.text() };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('dashboard handler serves the app and the browser builds of MQTT.js and Chart.js, nothing outside public/', async () => {
  const handler = createDashboardHandler();
  const server = createServer((req, res) => {
    if (!handler(req, res)) res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
  const base = await listen(server);
  try {
    const index = await get(`${base}/`);
    assert.equal(index.status, 200);
    assert.match(index.type, /^text\/html/);
    assert.match(index.body, /id="device-count"/);
    assert.match(index.body, /src="\/vendor\/mqtt\.min\.js"/);
    assert.match(index.body, /src="\/vendor\/chart\.umd\.min\.js"/);
    const flow = await get(`${base}/flow.html`);
    assert.equal(flow.status, 200);
    for (const path of ['/js/app.js', '/js/flow.js', '/js/common.js']) {
      const js = await get(`${base}${path}`);
      assert.equal(js.status, 200, path);
      assert.match(js.type, /^text\/javascript/, path);
    }
    const mqttJs = await get(`${base}/vendor/mqtt.min.js`);
    assert.equal(mqttJs.status, 200);
    assert.ok(mqttJs.body.length > 100_000, 'the MQTT.js browser bundle');
    const chartJs = await get(`${base}/vendor/chart.umd.min.js`);
    assert.equal(chartJs.status, 200);
    assert.match(chartJs.body, /Chart\.js v4\./, 'Chart.js 4 UMD build');
    // The API and anything outside the public folder are not the handler's business.
    assert.equal((await get(`${base}/api/devices`)).status, 404);
    assert.equal((await get(`${base}/%2e%2e/server.js`)).status, 404);
    assert.equal((await get(`${base}/..%2f..%2fpackage.json`)).status, 404);
    assert.equal((await get(`${base}/nope.html`)).status, 404);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
  }
});

test('stand-alone dashboard server forwards /api/* to the ingest API and can set the WebSocket URL', async () => {
  const api = createServer((req, res) => {
    const body =
      req.url === '/api/config'
        ? { wsUrl: 'ws://127.0.0.1:1/', brokerUrl: 'mqtt://127.0.0.1:2' }
        : req.url === '/api/devices'
          ? [{ id: 'dev-001', status: 'online' }]
          : { error: 'not found' };
    res
      .writeHead(req.url === '/api/config' || req.url === '/api/devices' ? 200 : 404, { 'content-type': 'application/json' })
      .end(JSON.stringify(body));
  });
  const apiUrl = await listen(api);
  const dashboard = await startDashboardServer({ apiUrl, wsUrl: 'ws://127.0.0.1:9999', port: 0 });
  try {
    assert.deepEqual(JSON.parse((await get(`${dashboard.url}api/devices`)).body), [{ id: 'dev-001', status: 'online' }]);
    assert.deepEqual(JSON.parse((await get(`${dashboard.url}api/config`)).body), {
      wsUrl: 'ws://127.0.0.1:9999',
      brokerUrl: 'mqtt://127.0.0.1:2',
    });
    assert.equal((await get(`${dashboard.url}api/nothing`)).status, 404);
    assert.equal((await get(dashboard.url)).status, 200);
  } finally {
    await dashboard.close();
    api.closeAllConnections();
    await new Promise<void>((done) => api.close(() => done()));
  }
});

test('dashboard in headless Chromium: device count, presence flip on a kill without DISCONNECT, correlated reply, QoS 2 packet flow', {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install -y chromium)`,
  timeout: 90_000,
}, async () => {
  const work = mkdtempSync(join(tmpdir(), 'mqttlab-dashboard-'));
  let broker: RunningBroker | undefined;
  let ingest: Ingest | undefined;
  let fleet: Fleet | undefined;
  let context: BrowserContext | undefined;
  const spy = await (async () => {
    broker = await createBroker({ host: '127.0.0.1', port: 0, wsPort: 0, sysInterval: 0 });
    // Watches the wire from outside the browser: the browser's command and the device's reply.
    const client = await connectClient(broker.url!, { clientId: 'test-spy' });
    const seen: IPublishPacket[] = [];
    client.on('message', (_topic, _payload, packet) => seen.push(packet));
    await client.subscribeAsync(['commands/#', 'dashboard/#'], { qos: 2 });
    return { client, seen };
  })();
  try {
    ingest = await startIngest({
      url: broker!.url!,
      workers: 2,
      store: join(work, 'telemetry.db'),
      httpPort: 0,
      httpHost: '127.0.0.1',
      wsUrl: broker!.wsUrl,
      staticHandler: createDashboardHandler(),
    });
    // Over `lan` links (a proxy per device, persistent sessions), so the Links panel has something to show.
    fleet = await startFleet({ url: broker!.url!, devices: DEVICES, intervalMs: 300, link: linkProfile('lan') });
    const base = ingest.apiUrl.replace(/\/api\/?$/, '').replace(/\/$/, '');

    context = await chromium.launchPersistentContext(join(work, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1400, height: 1000 },
    });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));

    await page.goto(`${base}/`);
    await page.waitForSelector('#conn[data-state="connected"]', { timeout: 10_000 });
    await waitForText(page, '#device-count', String(DEVICES));
    await page.waitForFunction((n) => document.querySelectorAll('.tile[data-status="online"]').length === n, DEVICES, { timeout: 10_000 });
    assert.equal(await page.locator('.tile').count(), DEVICES);

    // Presence: the will (retained `offline`) flips the tile; the device's retained `online` flips it back.
    const victim = fleet.devices[2]!;
    const tile = page.locator(`.tile[data-device="${victim}"]`);
    await fleet.kill(victim);
    await page.waitForSelector(`.tile[data-device="${victim}"][data-status="offline"]`, { timeout: 10_000 });
    assert.match((await tile.textContent()) ?? '', /offline/);
    await waitForText(page, '#offline-count', '1');
    await fleet.revive(victim);
    await page.waitForSelector(`.tile[data-device="${victim}"][data-status="online"]`, { timeout: 10_000 });
    await waitForText(page, '#offline-count', '0');
    // Links panel: the victim came back once over its lan link; nothing lost or duplicated on a perfect link.
    await page.waitForFunction(
      (id) => document.querySelector(`#links-table tbody tr[data-device="${id}"]`)?.textContent === `${id}lan100`,
      victim,
      { timeout: 10_000 },
    );
    assert.equal(await page.locator('#links-table tbody tr').count(), DEVICES);
    assert.match((await page.locator('#links-totals').textContent()) ?? '', /^1 reconnects · 0 readings lost · 0 alerts duplicated$/);

    // Command: request at QoS 2 with Response Topic + Correlation Data, reply correlated in the page.
    const target = fleet.devices[1]!;
    await page.locator(`.tile[data-device="${target}"]`).click();
    await waitForText(page, '#cmd-topic', `commands/${target}/ping`);
    await page.locator('#ping-btn').click();
    await page.waitForSelector('#cmd-reply[data-state="ok"]', { timeout: 10_000 });
    const correlation = await page.locator('#cmd-reply').getAttribute('data-correlation');
    assert.ok(correlation);
    const replyText = (await page.locator('#cmd-reply').textContent()) ?? '';
    assert.match(replyText, new RegExp(`reply from ${target} .*Correlation Data "${correlation}" matches`));
    assert.match(replyText, /"ok":true/);
    // The same exchange seen on the wire by another client.
    const request = spy.seen.find((p) => p.topic === `commands/${target}/ping`);
    assert.ok(request, 'the browser published the command');
    assert.equal(request.qos, 2);
    assert.equal(request.properties?.correlationData?.toString(), correlation);
    const responseTopic = request.properties?.responseTopic;
    assert.match(responseTopic ?? '', /^dashboard\/.+\/replies$/);
    const reply = spy.seen.find((p) => p.topic === responseTopic);
    assert.ok(reply, 'the device replied on the Response Topic');
    assert.equal(reply.properties?.correlationData?.toString(), correlation);

    // Give the charts a few live points, then keep a picture of the overview.
    await page.waitForFunction(() => Number(document.querySelector('#readings-count')?.textContent?.replace(/,/g, '')) > 0, undefined, {
      timeout: 10_000,
    });
    await page.waitForTimeout(1500);
    const shot = join(tmpdir(), `mqttlab-dashboard-${process.pid}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    if (UPDATE_DOCS) await page.screenshot({ path: join(REPO, 'docs', 'img', 'dashboard.png'), fullPage: true });
    console.log(`# dashboard screenshot: ${shot}`);

    // Packet flow from the browser's own publish at QoS 0, 1 and 2.
    await page.goto(`${base}/flow.html`);
    for (const qos of ['0', '1', '2']) await page.waitForSelector(`[data-flow-qos="${qos}"][data-complete="true"]`, { timeout: 10_000 });
    const packets = async (qos: string) =>
      ((await page.locator(`[data-flow-qos="${qos}"]`).getAttribute('data-packets')) ?? '').split(',').sort();
    assert.deepEqual(await packets('0'), ['PUBLISH', 'PUBLISH']);
    assert.deepEqual(await packets('1'), ['PUBACK', 'PUBACK', 'PUBLISH', 'PUBLISH']);
    assert.deepEqual(await packets('2'), ['PUBCOMP', 'PUBCOMP', 'PUBLISH', 'PUBLISH', 'PUBREC', 'PUBREC', 'PUBREL', 'PUBREL']);
    // The browser's own QoS 2 publish: PUBLISH out, PUBREC in, PUBREL out, PUBCOMP in, one packet id.
    const qos2 = page.locator('[data-flow-qos="2"] svg g.msg.send');
    const arrows = await qos2.evaluateAll((gs) =>
      gs.map((g) => `${g.getAttribute('data-dir')} ${g.getAttribute('data-type')} ${g.getAttribute('data-id')}`),
    );
    const id = arrows[0]?.split(' ')[2];
    assert.ok(id && id !== '0');
    assert.deepEqual(arrows, [`out PUBLISH ${id}`, `in PUBREC ${id}`, `out PUBREL ${id}`, `in PUBCOMP ${id}`]);
    const flowShot = join(tmpdir(), `mqttlab-packet-flow-${process.pid}.png`);
    await page.screenshot({ path: flowShot, fullPage: true });
    if (UPDATE_DOCS) await page.screenshot({ path: join(REPO, 'docs', 'img', 'packet-flow.png'), fullPage: true });
    console.log(`# packet flow screenshot: ${flowShot}`);
    assert.deepEqual(pageErrors, []);
  } finally {
    await context?.close().catch(() => {});
    await end(spy.client).catch(() => {});
    await fleet?.stop().catch(() => {});
    await ingest?.stop().catch(() => {});
    await broker?.close().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
});

async function waitForText(page: Page, selector: string, expected: string): Promise<void> {
  await page.waitForFunction(([s, e]) => document.querySelector(s!)?.textContent?.trim() === e, [selector, expected], { timeout: 10_000 });
}

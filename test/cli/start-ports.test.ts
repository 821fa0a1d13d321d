import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mosquittoPath, startBroker, type TestBroker } from '../helpers/brokers.js';
import { collect, connectClient, end, waitUntil } from '../helpers/clients.js';
import { runCli, spawnCli } from '../helpers/cli.js';

// The seed's first step is `docker compose up -d`: Mosquitto on 1883 (TCP) and 9001 (WebSocket). The
// tests never bind 1883 on a shared machine: a real Mosquitto holds two free ports, and `start` is told
// (MQTTLAB_MQTT_PORT / MQTTLAB_WS_PORT) that those are its defaults, so its fallback path is what runs.

describe("the seed's Mosquitto holds the default ports", {
  skip: mosquittoPath ? false : 'mosquitto is not installed',
  concurrency: true,
}, () => {
  let mosquitto: TestBroker;
  let wsPort: number;
  before(async () => {
    mosquitto = await startBroker('mosquitto', { websocket: true });
    wsPort = Number(new URL(mosquitto.wsUrl!).port);
  });
  after(() => mosquitto.close());

  test('start comes up on free ports, says which and how to use that Mosquitto, serves the dashboard, and stops on Ctrl-C', async () => {
    const p = spawnCli(['start', '--port', '0', '--devices', '2', '--workers', '1', '--no-status', '--db', ':memory:'], {
      env: { MQTTLAB_MQTT_PORT: String(mosquitto.port), MQTTLAB_WS_PORT: String(wsPort) },
    });
    try {
      await p.waitFor(/Ctrl-C stops everything/);
      const dashboard = p.stdout.match(/dashboard\s+(http:\S+)/)![1]!;
      const [, mqttPort, browserWsPort] = p.stdout.match(
        /broker\s+mqtt:\/\/127\.0\.0\.1:(\d+) \(embedded\) · browser WebSocket ws:\/\/127\.0\.0\.1:(\d+)/,
      )!;
      assert.notEqual(Number(mqttPort), mosquitto.port);
      assert.notEqual(Number(browserWsPort), wsPort);
      assert.match(p.stdout, new RegExp(`port ${mosquitto.port} is taken, so the embedded broker listens on ${mqttPort} instead`));
      assert.match(p.stdout, new RegExp(`port ${wsPort} is taken, so its WebSocket listens on ${browserWsPort} instead`));
      const hint = `to use it instead: mqttlab start --broker mqtt://127.0.0.1:${mosquitto.port} --ws-url ws://127.0.0.1:${wsPort}`;
      assert.match(p.stdout, /an MQTT broker \(mosquitto version \d+\.\d+\.\d+\) answers on/);
      assert.ok(p.stdout.includes(hint), p.stdout);

      const page = await fetch(dashboard);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /text\/html/);
      const config = (await (await fetch(`${dashboard}api/config`)).json()) as { wsUrl?: string };
      assert.equal(config.wsUrl, `ws://127.0.0.1:${browserWsPort}`);
      // The fleet runs on the embedded broker: its devices' retained presence is there, not on Mosquitto.
      const watcher = await connectClient(`mqtt://127.0.0.1:${mqttPort}`);
      const seen = collect(watcher);
      await watcher.subscribeAsync('devices/+/status');
      await waitUntil(() => seen.filter((m) => m.payload === 'online').length === 2, 10_000, 'both devices online');
      await end(watcher);
    } finally {
      p.signal('SIGINT');
    }
    const r = await p.done;
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /stopped\n$/);
    assert.equal(r.stderr, '');
  });

  test('broker with its TCP port taken: one line naming the option, exit 1', async () => {
    const r = await runCli(['broker', '-p', String(mosquitto.port), '-w', '0']);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `mqttlab: port ${mosquitto.port} on 127.0.0.1 is already in use: pass -p <port> (0 = any free port)\n`);
  });

  test('broker with only its WebSocket port taken: one line, exit 1, no stack trace', async () => {
    const r = await runCli(['broker', '-p', '0', '-w', String(wsPort)]);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `mqttlab: port ${wsPort} on 127.0.0.1 is already in use: pass -w <port>, or -w 0 for no WebSocket\n`);
  });

  test('start with a taken port given explicitly: one line naming the option, exit 1', async () => {
    const r = await runCli(['start', '--port', '0', '--mqtt-port', String(mosquitto.port), '--no-status', '--db', ':memory:'], {
      env: { MQTTLAB_WS_PORT: '0' },
    });
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr,
      `mqttlab: port ${mosquitto.port} on 127.0.0.1 is already in use: pass --mqtt-port 0 for any free port, or another port\n`,
    );
  });
});

/*
 * The issue 11 attacks, measured on one broker in a child process (CPU and RSS from /proc), for the table in
 * docs/reliability.md. Not a test (no pass/fail): `npm run build && node dist/test/attacks/measure.js
 * embedded|mosquitto [--json] [--only <part of an attack's name>]`. Each attack gets a fresh broker; every wait is bounded.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { reasonName } from '../../src/protocol/index.js';
import { processCpuSeconds, processRssKb, startMosquittoProcess } from '../../src/util/index.js';
import { spawnBrokerProcess } from '../helpers/broker-process.js';
import { publishToLongTopics } from '../helpers/long-topics.js';
import { RawClient } from '../helpers/raw-client.js';
import { pkt, str } from '../helpers/wire-bytes.js';

const MiB = 1024 * 1024;

interface Target {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

interface Row {
  attack: string;
  answer: string;
  cpuSeconds: number;
  peakRssMb: number;
  endRssMb: number;
  healthyPingMs: number | undefined;
  alive: boolean;
}

async function start(kind: string, embeddedArgs: string[] = []): Promise<Target> {
  if (kind === 'mosquitto') {
    const m = await startMosquittoProcess();
    return { port: m.port, pid: m.pid, stop: () => m.close() };
  }
  const b = await spawnBrokerProcess(['--sys-interval', '0', ...embeddedArgs]);
  return { port: b.port, pid: b.child.pid!, stop: () => b.stop('SIGKILL') };
}

const deep = (levels: number) => Array.from({ length: levels }, (_, i) => `l${i % 10}`).join('/');

/** What a client was told: its DISCONNECT / CONNACK / SUBACK codes, or that the connection was closed. */
function answer(client: RawClient): string {
  const parts = client.received
    .filter((p) => p.cmd !== 'connack' || p.reasonCode !== 0)
    .map((p) => {
      if (p.cmd === 'disconnect' || p.cmd === 'connack') return `${p.cmd.toUpperCase()} ${reasonName(p.reasonCode ?? 0)}`;
      if (p.cmd === 'suback') return `SUBACK ${[...new Set(p.granted as number[])].map((g) => `0x${g.toString(16)}`).join('/')}`;
      if (p.cmd === 'puback') return `PUBACK ${reasonName(p.reasonCode ?? 0)}`;
      return p.cmd.toUpperCase();
    });
  const unique = [...new Set(parts)];
  return [...unique, client.isOpen ? 'open' : 'closed'].join(', ');
}

async function pingMs(port: number): Promise<number | undefined> {
  try {
    const { client } = await RawClient.connect(port, { clientId: `healthy-${Math.random()}` });
    const best = await client.pingMs();
    client.destroy();
    return best;
  } catch {
    return undefined;
  }
}

type Attack = (port: number, sample: () => void) => Promise<string>;

const attacks: Array<{ name: string; args?: string[]; run: Attack }> = [
  {
    name: 'will on a 6,000-level topic, subscribed to it, socket dropped',
    run: async (port) => {
      const client = await RawClient.open(port, 5);
      client.send({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 5,
        clean: true,
        keepalive: 0,
        clientId: 'deep-will',
        will: { topic: deep(6000), payload: Buffer.from('x'), qos: 0, retain: false },
      });
      await Promise.race([client.expect('connack', 3000).catch(() => undefined), client.closed]);
      if (client.isOpen) {
        client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: deep(6000), qos: 0 }] });
        await client.expect('suback', 3000).catch(() => undefined);
      }
      const told = answer(client);
      client.destroy();
      await sleep(500);
      return told;
    },
  },
  {
    name: 'retained PUBLISH to a 10,000-level topic, then SUBSCRIBE #',
    run: async (port) => {
      const { client } = await RawClient.connect(port, { clientId: 'poison' });
      client.send({ cmd: 'publish', topic: deep(10_000), payload: Buffer.from('x'), qos: 1, messageId: 1, retain: true, dup: false });
      await Promise.race([client.waitFor((p) => p.cmd === 'puback' || p.cmd === 'disconnect', 3000).catch(() => undefined), client.closed]);
      const { client: sub } = await RawClient.connect(port, { clientId: 'poison-sub' });
      sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 0 }] });
      await Promise.race([sub.waitFor((p) => p.cmd === 'suback' || p.cmd === 'disconnect', 3000).catch(() => undefined), sub.closed]);
      return `publish: ${answer(client)}; subscribe #: ${answer(sub)}`;
    },
  },
  {
    name: 'QoS 1 subscriber that does not read, 4,000 × 64 KB',
    run: async (port, sample) => {
      const { client: sub } = await RawClient.connect(port, { clientId: 'never-reads', properties: { receiveMaximum: 65535 } });
      sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'flood', qos: 1 }] });
      await sub.expect('suback');
      sub.pauseReading();
      const { client: pub } = await RawClient.connect(port, { clientId: 'flooder' });
      const payload = Buffer.alloc(64 * 1024, 0x78);
      let acked = 0;
      for (let sent = 0; sent < 4000; sent += 100) {
        for (let i = 1; i <= 100; i++)
          pub.send({ cmd: 'publish', topic: 'flood', payload, qos: 1, messageId: sent + i, retain: false, dup: false });
        const ok = await pub
          .waitFor((p) => p.cmd === 'puback' && p.messageId === sent + 100, 20_000)
          .then(
            () => true,
            () => false,
          );
        sample();
        if (!ok) break;
        acked = sent + 100;
      }
      sub.destroy();
      pub.destroy();
      await sleep(2000);
      return `${acked} acknowledged; subscriber left`;
    },
  },
  {
    name: '8 MiB PUBLISH in 1 KiB segments (default limits)',
    run: (port, sample) => segmented(port, sample),
  },
  {
    name: '8 MiB PUBLISH in 1 KiB segments (ours: --max-packet-size 16 MiB)',
    args: ['--max-packet-size', String(16 * MiB)],
    run: (port, sample) => segmented(port, sample),
  },
  {
    name: '10,000 PUBLISHes to distinct 65 KB topics, no subscriber',
    run: async (port, sample) => {
      const { client } = await RawClient.connect(port, { clientId: 'long-topics' });
      await publishToLongTopics(client, {
        count: 10_000,
        topicBytes: 65 * 1000,
        ackEvery: 250,
        ackTimeoutMs: 20_000,
        missingAck: 'continue',
        sampled: sample,
      });
      const told = answer(client);
      client.destroy();
      await sleep(2000);
      return told;
    },
  },
  {
    name: 'one SUBSCRIBE of 1,000 filters of 60 KB (a/a/…) (ours: --max-packet-size 64 MiB)',
    args: ['--max-packet-size', String(64 * MiB)],
    run: async (port) => {
      const { client } = await RawClient.connect(port, { clientId: 'many-filters' });
      const body: Buffer[] = [Buffer.from([0, 1, 0])];
      for (let i = 0; i < 1000; i++) body.push(str(`${i}/${'a/'.repeat(30_000)}a`), Buffer.from([1]));
      client.sendBytes(pkt(0x82, ...body));
      await Promise.race([
        client.waitFor((p) => p.cmd === 'suback' || p.cmd === 'disconnect', 120_000).catch(() => undefined),
        client.closed,
      ]);
      return answer(client);
    },
  },
  {
    name: 'one client subscribing to 10,000 distinct 200-level filters (20 SUBSCRIBEs of 500)',
    run: async (port, sample) => {
      const { client } = await RawClient.connect(port, { clientId: 'deep-filters' });
      const tail = Array.from({ length: 199 }, () => 'a').join('/');
      const granted: number[] = [];
      for (let packet = 0; packet < 20 && client.isOpen; packet++) {
        const subscriptions = Array.from({ length: 500 }, (_, i) => ({ topic: `f${packet * 500 + i}/${tail}`, qos: 0 as const }));
        client.send({ cmd: 'subscribe', messageId: packet + 1, subscriptions });
        const suback = await Promise.race([
          client.waitFor((p) => p.cmd === 'suback' && p.messageId === packet + 1, 60_000).catch(() => undefined),
          client.closed.then(() => undefined),
        ]);
        if (suback) granted.push(...((suback as { granted: number[] }).granted ?? []));
        sample();
      }
      const refused = granted.filter((g) => g >= 0x80).length;
      return `${answer(client)}; ${granted.length - refused} granted, ${refused} refused`;
    },
  },
];

async function segmented(port: number, sample: () => void): Promise<string> {
  const { client: sub } = await RawClient.connect(port, { clientId: 'big-sub' });
  sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'big', qos: 0 }] });
  await sub.expect('suback');
  const { client } = await RawClient.connect(port, { clientId: 'big-pub' });
  const packet = pkt(0x30, str('big'), Buffer.from([0]), Buffer.alloc(8 * MiB, 0x61));
  for (let at = 0; at < packet.length && client.isOpen; at += 1024) {
    client.sendBytes(packet.subarray(at, at + 1024));
    if (at % MiB === 0) {
      await new Promise((r) => setImmediate(r));
      sample();
    }
  }
  const got = await sub.expect('publish', 60_000).then(
    (p) => `delivered ${p.payload.length} B`,
    () => 'not delivered',
  );
  return `${answer(client)}; ${got}`;
}

async function measure(kind: string): Promise<Row[]> {
  const rows: Row[] = [];
  // --only <text>: just the attacks whose name contains it (one new row without re-running the table).
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
  for (const attack of attacks.filter((a) => only === undefined || a.name.includes(only))) {
    const target = await start(kind, attack.args);
    const cpu0 = processCpuSeconds(target.pid);
    let peak = processRssKb(target.pid) / 1024;
    const sample = () => {
      try {
        peak = Math.max(peak, processRssKb(target.pid) / 1024);
      } catch {
        // The process is gone; `alive` says so.
      }
    };
    let told: string;
    try {
      told = await attack.run(target.port, sample);
    } catch (error) {
      told = `client error: ${(error as Error).message.slice(0, 80)}`;
    }
    sample();
    let alive = true;
    let cpu = NaN;
    let end = NaN;
    try {
      cpu = processCpuSeconds(target.pid) - cpu0;
      end = processRssKb(target.pid) / 1024;
    } catch {
      alive = false;
    }
    const healthyPingMs = alive ? await pingMs(target.port) : undefined;
    rows.push({
      attack: attack.name,
      answer: told,
      cpuSeconds: cpu,
      peakRssMb: peak,
      endRssMb: end,
      healthyPingMs,
      alive: alive && healthyPingMs !== undefined,
    });
    await target.stop();
    console.error(`${kind}: ${attack.name}: done`);
  }
  return rows;
}

const kind = process.argv[2] ?? 'embedded';
const rows = await measure(kind);
if (process.argv.includes('--json')) {
  console.log(JSON.stringify(rows, null, 2));
} else {
  console.log(`| attack (${kind}) | answer | broker CPU s | peak RSS MB | RSS after MB | healthy ping ms | alive |`);
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const cells = [r.attack, r.answer, r.cpuSeconds.toFixed(2), r.peakRssMb.toFixed(0), r.endRssMb.toFixed(0)];
    cells.push(r.healthyPingMs?.toFixed(1) ?? '–', r.alive ? 'yes' : 'no');
    console.log(`| ${cells.join(' | ')} |`);
  }
}
process.exit(0);

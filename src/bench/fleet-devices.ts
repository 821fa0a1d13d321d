import { LoadClient, monotonicMicros, PublishTemplate } from './load-client.js';
import type { DevicesSpec } from './protocol.js';
import { cpuSince, errorsOf, finish, handlers, openBounded, send } from './worker-context.js';

/*
 * The fleet's devices in one load-generator process: many connections, each sending one small message now
 * and then on its own schedule, so that nothing batches — the shape of an IoT fleet's traffic.
 */

/** Milliseconds between checks for sends that fell due. */
const TICK_MS = 1;
/** Milliseconds after the deadline that devices still wait for missing acknowledgements. */
const ACK_GRACE_MS = 5000;
/** Milliseconds the devices of one process may take to connect; those left then count as failed. */
const CONNECT_WITHIN_MS = 120_000;

/** One device: its connection, its PUBLISH (topic encoded once) and its next packet id. */
interface Device {
  client: LoadClient;
  template: PublishTemplate;
  nextId: number;
}

/**
 * Connects the devices, then on 'go' sends on schedule: the local send s is device `first + s % clients`
 * in cycle `floor(s / clients)`, due at (global index + cycle × devices) × interval / devices after the
 * origin the parent gave, so the phases of all processes together are spread evenly over the interval.
 */
export async function runDevices(spec: DevicesSpec): Promise<void> {
  const payload = Buffer.alloc(spec.payloadBytes, 0x61);
  const devices: Array<Device | undefined> = Array.from({ length: spec.clients }, () => undefined);
  const open = async (n: number) => {
    const client = await LoadClient.open({
      host: spec.host,
      port: spec.port,
      clientId: `${spec.idPrefix}-${spec.first + n}`,
      receiveMaximum: spec.receiveMaximum,
      localAddress: spec.localAddress,
      keepalive: spec.keepalive,
    });
    devices[n] = { client, template: new PublishTemplate(`${spec.topicPrefix}/${spec.first + n}/temp`, payload, spec.qos), nextId: 1 };
    return client;
  };
  const opened = await openBounded(spec.clients, spec.concurrency, CONNECT_WITHIN_MS, open);
  const intervalUs = spec.intervalMs * 1000;
  const durationUs = spec.durationMs * 1000;
  const dueAt = (s: number) =>
    ((spec.first + (s % spec.clients) + Math.floor(s / spec.clients) * spec.devices) * intervalUs) / spec.devices;
  let origin = 0;
  let next = 0;
  let sent = 0;
  let skipped = 0;
  let ticker: NodeJS.Timeout | undefined;
  let sendingDone = false;
  let finished = false;

  const sendOne = (device: Device | undefined) => {
    const client = device?.client;
    const window = Math.min(spec.inflight, client?.serverReceiveMaximum ?? 0);
    if (!device || !client || client.closedBecause !== undefined || (spec.qos > 0 && client.inflight >= window)) {
      skipped++;
      return;
    }
    client.socket.write(device.template.batch(1, device.nextId, monotonicMicros()));
    device.nextId = (device.nextId % 65535) + 1;
    if (spec.qos > 0) client.inflight++;
    sent++;
  };
  const tick = () => {
    const elapsed = monotonicMicros() - origin;
    while (!sendingDone) {
      const at = dueAt(next);
      if (at >= durationUs) sendingDone = true;
      else if (at > elapsed) break;
      else sendOne(devices[next++ % spec.clients]);
    }
    if (sendingDone && !finished) {
      // Acknowledgements still missing this long after the deadline are given up on: the round stays bounded.
      const givenUp = elapsed >= durationUs + ACK_GRACE_MS * 1000;
      if (givenUp || devices.every((d) => !d || d.client.inflight === 0 || d.client.closedBecause !== undefined)) {
        finished = true;
        clearInterval(ticker);
        send({ type: 'finished', sent, skipped });
      }
    }
  };
  handlers.go = (at) => {
    origin = at ?? monotonicMicros();
    ticker = setInterval(tick, TICK_MS);
  };
  handlers.stop = () => {
    clearInterval(ticker);
    const clients = opened.clients;
    finish(clients, {
      cpuSeconds: cpuSince(),
      sent,
      received: 0,
      skipped,
      connected: clients.length,
      firstAt: origin,
      errors: { ...opened.failures, ...errorsOf(clients) },
    });
  };
  send({ type: 'ready' });
}

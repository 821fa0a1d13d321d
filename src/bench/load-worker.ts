import { runDevices } from './fleet-devices.js';
import { LatencyHistogram } from './histogram.js';
import { LoadClient, monotonicMicros, PublishTemplate } from './load-client.js';
import type { IdleSpec, PublishersSpec, SubscribersSpec, ToWorker } from './protocol.js';
import { cpuSince, errorsOf, finish, handlers, markGo, openBounded, send } from './worker-context.js';

/*
 * A load generator process (forked by workers.ts): one role per process, driven by messages from the
 * parent (protocol.ts). Several of them spread the load over the cores; each reports its own CPU use.
 */

/** Milliseconds between progress reports of subscribers. */
const PROGRESS_MS = 5;
/** Batches one publisher writes before yielding to the event loop (acks, credit). */
const BATCHES_PER_TURN = 8;
/** PUBLISH packets per write. */
const BATCH = 64;
/** Milliseconds after the deadline that publishers still wait for missing acknowledgements. */
const ACK_GRACE_MS = 5000;

process.on('message', (m: ToWorker) => {
  if (m.type === 'spec') {
    const spec = m.spec;
    const start =
      spec.role === 'subscribers'
        ? subscribers(spec)
        : spec.role === 'publishers'
          ? publishers(spec)
          : spec.role === 'devices'
            ? runDevices(spec)
            : idle(spec);
    start.catch((error: Error) => send({ type: 'error', message: error.message }));
  } else if (m.type === 'go') {
    markGo();
    handlers.go?.(m.at);
  } else if (m.type === 'credit') handlers.credit?.(m.perClient);
  else if (m.type === 'check') handlers.check?.();
  else handlers.stop?.();
});
process.on('disconnect', () => process.exit(0));

async function openAll(spec: SubscribersSpec | PublishersSpec): Promise<LoadClient[]> {
  return Promise.all(
    Array.from({ length: spec.clients }, (_, n) =>
      LoadClient.open({ host: spec.host, port: spec.port, clientId: `${spec.idPrefix}-${n}`, receiveMaximum: spec.receiveMaximum }),
    ),
  );
}

async function subscribers(spec: SubscribersSpec): Promise<void> {
  const clients = await openAll(spec);
  await Promise.all(clients.map((c) => c.subscribe(spec.topic, spec.qos)));
  const histogram = spec.latency ? new LatencyHistogram() : undefined;
  if (histogram) {
    for (const c of clients) c.onPublish = (buf, at) => histogram.record(monotonicMicros() - buf.readDoubleLE(at));
  }
  let firstAt: number | undefined;
  let lastAt: number | undefined;
  let lastTotal = 0;
  let timer: NodeJS.Timeout | undefined;
  const tally = () => {
    let min = Number.MAX_SAFE_INTEGER;
    let total = 0;
    for (const c of clients) {
      total += c.received;
      if (c.received < min) min = c.received;
    }
    return { min, total };
  };
  handlers.go = () => {
    timer = setInterval(() => {
      const { min, total } = tally();
      if (total > lastTotal) {
        lastAt = monotonicMicros();
        firstAt ??= lastAt;
        lastTotal = total;
      }
      send({ type: 'progress', min, total });
    }, PROGRESS_MS);
  };
  handlers.stop = () => {
    clearInterval(timer);
    finish(clients, {
      cpuSeconds: cpuSince(),
      sent: 0,
      received: tally().total,
      firstAt,
      lastAt,
      latency: histogram?.summary(),
      histogram: histogram?.encode(),
      errors: errorsOf(clients),
    });
  };
  send({ type: 'ready' });
}

async function publishers(spec: PublishersSpec): Promise<void> {
  const clients = await openAll(spec);
  const payload = Buffer.alloc(spec.payloadBytes, 0x61);
  const template = new PublishTemplate(spec.topic, payload, spec.qos);
  const reusable = spec.qos === 0 && !spec.stamp ? template.batch(BATCH, 1) : undefined;
  const size = template.bytes.length;
  const state = clients.map((client) => ({
    client,
    sent: 0,
    nextId: 1,
    waitingDrain: false,
    window: Math.min(spec.inflight, client.serverReceiveMaximum),
  }));
  let credit = 0;
  let startedAt = 0;
  let deadline = 0;
  let lastAt = 0;
  let finished = false;
  let ticker: NodeJS.Timeout | undefined;

  const allowedNow = () => {
    const byRate = spec.rate === undefined ? Number.MAX_SAFE_INTEGER : Math.floor(((monotonicMicros() - startedAt) / 1e6) * spec.rate) + 1;
    return Math.min(spec.perClient, credit, byRate);
  };
  const checkFinished = () => {
    if (finished) return;
    const now = monotonicMicros();
    const past = now >= deadline;
    // Acknowledgements still missing this long after the deadline are given up on: the round stays bounded.
    const givenUp = now >= deadline + ACK_GRACE_MS * 1000;
    const done = state.every(
      (s) =>
        (s.sent >= spec.perClient || past || s.client.closedBecause !== undefined) &&
        (s.client.inflight === 0 || s.client.closedBecause !== undefined || givenUp),
    );
    if (done) {
      finished = true;
      send({ type: 'finished', sent: state.reduce((a, s) => a + s.sent, 0) });
    }
  };
  const pump = (s: (typeof state)[number]) => {
    if (s.waitingDrain || s.client.closedBecause !== undefined) return;
    for (let turn = 0; turn < BATCHES_PER_TURN; turn++) {
      if (monotonicMicros() >= deadline) break;
      let k = Math.min(BATCH, allowedNow() - s.sent);
      if (spec.qos > 0) k = Math.min(k, s.window - s.client.inflight);
      if (k <= 0) break;
      const bytes = reusable ? reusable.subarray(0, k * size) : template.batch(k, s.nextId, spec.stamp ? monotonicMicros() : undefined);
      s.nextId = ((s.nextId + k - 1) % 65535) + 1;
      s.sent += k;
      if (spec.qos > 0) s.client.inflight += k;
      lastAt = monotonicMicros();
      if (!s.client.socket.write(bytes)) {
        s.waitingDrain = true;
        s.client.socket.once('drain', () => {
          s.waitingDrain = false;
          pump(s);
        });
        return;
      }
      if (turn === BATCHES_PER_TURN - 1) setImmediate(() => pump(s));
    }
    checkFinished();
  };
  for (const s of state) s.client.onAcked = () => pump(s);
  handlers.credit = (perClient) => {
    credit = perClient;
    if (startedAt > 0) for (const s of state) pump(s);
  };
  handlers.go = () => {
    startedAt = monotonicMicros();
    deadline = startedAt + spec.durationMs * 1000;
    // Pumps at least every millisecond: the rate, the deadline, and publishers whose credit ran out.
    ticker = setInterval(() => {
      for (const s of state) pump(s);
      checkFinished();
    }, 1);
    for (const s of state) pump(s);
  };
  handlers.stop = () => {
    clearInterval(ticker);
    const sent = state.reduce((a, s) => a + s.sent, 0);
    finish(clients, { cpuSeconds: cpuSince(), sent, received: 0, firstAt: startedAt, lastAt, errors: errorsOf(clients) });
  };
  send({ type: 'ready' });
}

async function idle(spec: IdleSpec): Promise<void> {
  let opened: Awaited<ReturnType<typeof openBounded>> | undefined;
  handlers.go = () => {
    const firstAt = monotonicMicros();
    const open = (n: number) =>
      LoadClient.open({
        host: spec.host,
        port: spec.port,
        clientId: `${spec.idPrefix}-${n}`,
        receiveMaximum: spec.receiveMaximum,
        localAddress: spec.localAddress,
      });
    void openBounded(spec.clients, spec.concurrency, Number.POSITIVE_INFINITY, open).then((o) => {
      opened = o;
      send({
        type: 'connected',
        connected: o.clients.length,
        cpuSeconds: cpuSince(),
        failed: o.failed,
        firstAt,
        lastAt: monotonicMicros(),
        errors: o.failures,
      });
    });
  };
  handlers.check = () => send({ type: 'checked', open: opened?.clients.filter((c) => c.closedBecause === undefined).length ?? 0 });
  handlers.stop = () => {
    const clients = opened?.clients ?? [];
    finish(clients, { cpuSeconds: cpuSince(), sent: 0, received: 0, errors: { ...opened?.failures, ...errorsOf(clients) } });
  };
  send({ type: 'ready' });
}

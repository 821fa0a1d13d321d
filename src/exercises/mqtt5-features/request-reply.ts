import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import type { TracedPacket } from '../../client/index.js';
import type { ExerciseContext } from '../context.js';
import { type Checks, packetWithProperties, type Section, stats, table, waitFor } from '../report.js';

/** One request, the reply matched to it by Correlation Data, and the round trip. */
export interface RequestOutcome {
  n: number;
  x: number;
  /** Correlation Data as hex. */
  correlation: string;
  /** How long the responder sat on it before answering (chosen at random, to reorder replies). */
  responderDelayMs: number;
  reply?: { square: number };
  /** The reply's result belongs to this request (x²). */
  matched: boolean;
  roundTripMs?: number;
}

/** What the request/reply demonstration saw: every request, its reply, and what the responder got. */
export interface RequestReplyResult {
  requestTopic: string;
  responseTopic: string;
  requests: RequestOutcome[];
  /** Request numbers in the order their replies arrived. */
  arrivalOrder: number[];
  /** Replies whose Correlation Data matched no outstanding request. */
  unmatchedReplies: number;
  /** What the responder saw on each request: the Response Topic and Correlation Data, unaltered? */
  responderSaw: { responseTopicIntact: number; correlationIntact: number; requests: number };
  /** The first request's PUBLISH out and its reply's PUBLISH in, as traced. */
  packets: TracedPacket[];
}

/** The requester's side: requests awaiting a reply (by Correlation Data hex), arrivals, stray replies. */
interface RequesterState {
  pending: Map<string, { outcome: RequestOutcome; sentAt: number }>;
  arrivalOrder: number[];
  unmatchedReplies: number;
}

/**
 * A responder answers on each request's Response Topic with its Correlation Data; several requests are
 * in flight at once and answered in a shuffled order, and the requester matches every reply by its
 * Correlation Data (seed: demonstrate_request_reply; MQTT 5.0 §4.10).
 */
export async function demonstrateRequestReply(ctx: ExerciseContext, options: { requests?: number } = {}): Promise<RequestReplyResult> {
  const count = options.requests ?? 5;
  const requestTopic = ctx.topic('rpc/square');
  // A response topic unique to this requester, so replies for others never reach it (§4.10.2).
  const responseTopic = ctx.topic(`rpc/replies/${ctx.clientId('requester')}`);
  // Distinct delays 0, 20, 40 … ms in random order: replies come back in a different order than asked.
  const delays = shuffle(Array.from({ length: count }, (_, i) => i * 20));
  const sentCorrelations = new Set<string>();

  const mark = ctx.trace.mark();
  const responderSaw = await startResponder(ctx, { requestTopic, responseTopic, delays, sentCorrelations });
  const requester = await ctx.connect('requester');
  const state: RequesterState = { pending: new Map(), arrivalOrder: [], unmatchedReplies: 0 };
  requester.on('message', (_topic, payload, packet) => matchReply(state, payload, packet.properties?.correlationData));
  // Subscribe to the response topic before asking anything (§4.10.1: a reply with no subscriber is lost).
  await requester.subscribeAsync(responseTopic, { qos: 1 });

  const requests = await sendRequests(requester, state, { count, requestTopic, responseTopic, sentCorrelations });
  await waitFor(() => state.pending.size === 0, 3000 + Math.max(...delays));
  // The responder handles requests in the order they arrive, i.e. the order they were sent.
  for (const [i, r] of requests.entries()) r.responderDelayMs = delays[i]!;

  const firstCorrelation = requests[0]?.correlation;
  const hex = (p: TracedPacket) => (p.properties?.correlationData as Buffer | undefined)?.toString('hex');
  const packets = ctx.trace
    .since(mark)
    .filter((p) => p.type === 'PUBLISH' && hex(p) === firstCorrelation && (p.client === 'requester' || p.client === 'responder'));
  const { arrivalOrder, unmatchedReplies } = state;
  return { requestTopic, responseTopic, requests, arrivalOrder, unmatchedReplies, responderSaw, packets };
}

/**
 * Connects the responder: it squares each request's `x` and answers on the Response Topic with the
 * Correlation Data after its delay; returns the tally of what it saw on the requests.
 */
async function startResponder(
  ctx: ExerciseContext,
  plan: { requestTopic: string; responseTopic: string; delays: number[]; sentCorrelations: Set<string> },
): Promise<RequestReplyResult['responderSaw']> {
  const responderSaw = { responseTopicIntact: 0, correlationIntact: 0, requests: 0 };
  const responder = await ctx.connect('responder');
  let handled = 0;
  responder.on('message', (_topic, payload, packet) => {
    const { x } = JSON.parse(payload.toString()) as { x: number };
    const replyTo = packet.properties?.responseTopic;
    const correlationData = packet.properties?.correlationData;
    responderSaw.requests++;
    // [MQTT-3.3.2-15], [MQTT-3.3.2-16] the broker forwards both unaltered.
    if (replyTo === plan.responseTopic) responderSaw.responseTopicIntact++;
    if (correlationData && plan.sentCorrelations.has(correlationData.toString('hex'))) responderSaw.correlationIntact++;
    if (!replyTo) return;
    const delay = plan.delays[handled++ % plan.delays.length]!;
    setTimeout(() => {
      // The reply carries the request's Correlation Data back; it needs no Response Topic itself.
      responder.publish(replyTo, JSON.stringify({ square: x * x }), { qos: 1, properties: correlationData ? { correlationData } : {} });
    }, delay);
  });
  await responder.subscribeAsync(plan.requestTopic, { qos: 1 });
  return responderSaw;
}

/** Matches a reply to its request by Correlation Data and records its result and round trip. */
function matchReply(state: RequesterState, payload: Buffer, correlationData: Buffer | undefined): void {
  const at = performance.now();
  const key = correlationData?.toString('hex');
  const entry = key !== undefined ? state.pending.get(key) : undefined;
  if (!entry) {
    state.unmatchedReplies++;
    return;
  }
  state.pending.delete(key!);
  const reply = JSON.parse(payload.toString()) as { square: number };
  entry.outcome.reply = reply;
  entry.outcome.matched = reply.square === entry.outcome.x * entry.outcome.x;
  entry.outcome.roundTripMs = Math.round((at - entry.sentAt) * 1000) / 1000;
  state.arrivalOrder.push(entry.outcome.n);
}

/** Sends all requests at once, each with the Response Topic and fresh Correlation Data. */
async function sendRequests(
  requester: MqttClient,
  state: RequesterState,
  plan: { count: number; requestTopic: string; responseTopic: string; sentCorrelations: Set<string> },
): Promise<RequestOutcome[]> {
  const requests: RequestOutcome[] = [];
  const sends: Array<Promise<unknown>> = [];
  for (let n = 1; n <= plan.count; n++) {
    const correlationData = randomBytes(8);
    const outcome: RequestOutcome = { n, x: n * 7, correlation: correlationData.toString('hex'), responderDelayMs: 0, matched: false };
    requests.push(outcome);
    plan.sentCorrelations.add(outcome.correlation);
    state.pending.set(outcome.correlation, { outcome, sentAt: performance.now() });
    const properties = { responseTopic: plan.responseTopic, correlationData };
    sends.push(requester.publishAsync(plan.requestTopic, JSON.stringify({ x: outcome.x }), { qos: 1, properties }));
  }
  await Promise.all(sends);
  return requests;
}

/** Fisher–Yates shuffle (a copy). */
function shuffle<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The report section for request/reply, recording its checks. */
export function reportRequestReply(rpc: RequestReplyResult, checks: Checks): Section {
  const n = rpc.requests.length;
  const saw = rpc.responderSaw;
  checks.conforms(
    ['MQTT-3.3.2-15', 'MQTT-3.3.2-16'],
    'the responder saw every Response Topic and Correlation Data unaltered',
    saw.requests === n && saw.responseTopicIntact === n && saw.correlationIntact === n,
    JSON.stringify(saw),
  );
  checks.expect(
    'every reply was matched to its request by Correlation Data',
    rpc.requests.every((r) => r.matched) && rpc.unmatchedReplies === 0,
    `${rpc.requests.filter((r) => !r.matched).length} unmatched request(s), ${rpc.unmatchedReplies} stray repl(ies)`,
  );
  const rtts = stats(rpc.requests.flatMap((r) => (r.roundTripMs !== undefined ? [r.roundTripMs] : [])));
  // What the round trip costs beyond the responder's deliberate delay: the broker hops, twice.
  const overhead = stats(rpc.requests.flatMap((r) => (r.roundTripMs !== undefined ? [r.roundTripMs - r.responderDelayMs] : [])));
  const arrived = rpc.arrivalOrder.map((i) => `#${i}`).join(' ');
  return {
    title: `Request/reply: ${n} requests in flight on ${rpc.requestTopic}, replies on ${rpc.responseTopic}`,
    lines: [
      ...table(
        ['request', 'x', 'correlation data', 'responder delay', 'reply', 'matched', 'round trip'],
        rpc.requests.map((r) => [
          `#${r.n}`,
          r.x,
          r.correlation,
          `${r.responderDelayMs} ms`,
          r.reply ? `square=${r.reply.square}` : '—',
          r.matched ? 'yes' : 'NO',
          r.roundTripMs !== undefined ? `${r.roundTripMs.toFixed(1)} ms` : '—',
        ]),
      ),
      `  sent in order 1..${n}, replies arrived as ${arrived}; round trip p50 ${rtts.p50.toFixed(1)} ms, max ${rtts.max.toFixed(1)} ms`,
      `  beyond the responder's delay each round trip took ${overhead.p50.toFixed(1)} ms (p50) ` +
        'for request → broker → responder → broker → requester',
      ...(overhead.p50 > 30
        ? [
            "  (~40 ms is the signature of TCP delayed ACK meeting Nagle's algorithm on a socket without TCP_NODELAY" +
              ' — e.g. Mosquitto without set_tcp_nodelay true)',
          ]
        : []),
      '  request #1 and its reply, as traced:',
      ...rpc.packets.map((p) => packetWithProperties(p, ['responseTopic', 'correlationData'])),
    ],
  };
}

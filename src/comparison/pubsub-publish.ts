import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { sumBytes, type WireRow } from './model.js';
import { CountingProxy, splitHttp2, timeOrdered, waitForUnits, type Mark, type ProxiedConnection, type WireUnit } from './wire-counter.js';

/**
 * Google Cloud Pub/Sub's publish call, computed from its public API (no Google server is contacted):
 * - REST: `POST https://pubsub.googleapis.com/v1/{topic}:publish` with a JSON body whose `data` is base64
 *   (cloud.google.com/pubsub/docs/reference/rest/v1/projects.topics/publish); HTTP/1.1 text counted byte by byte.
 * - gRPC: `google.pubsub.v1.Publisher/Publish` (googleapis google/pubsub/v1/pubsub.proto) as HTTP/2 frames
 *   (RFC 9113) with HPACK headers (RFC 7541) and a length-prefixed protobuf message (gRPC's PROTOCOL-HTTP2.md).
 *   The frames are produced by Node's HTTP/2 stack (nghttp2) talking to a local stand-in server over a
 *   counting proxy on loopback: the encoding is real, the server is not Google's (its response headers are the
 *   minimum gRPC requires).
 * TLS is not counted (nor is it for MQTT, AMQP or Kafka, which can all run over it).
 */
export const PUBSUB_SAMPLE = {
  project: 'mqttlab-demo',
  /** Pub/Sub topic ids allow letters, digits and - _ . ~ + %: the MQTT topic with dots. */
  topicId: 'sensors.temperature.room1',
  /** A message id as Pub/Sub returns them: a decimal string (16 digits here). */
  messageId: '2070443601311540',
  /**
   * Assumed length of the OAuth 2.0 bearer token. Google documents access tokens of up to 2048 bytes and
   * reserves the right to change their size; real ones vary. Every REST request carries it in full.
   */
  tokenBytes: 256,
} as const;

export function pubsubTopicName(project: string = PUBSUB_SAMPLE.project, topicId: string = PUBSUB_SAMPLE.topicId): string {
  return `projects/${project}/topics/${topicId}`;
}

/**
 * A stand-in token of the given length: "ya29." and then URL-safe base64 characters from a fixed
 * pseudo-random sequence, so HPACK's Huffman coding compresses it as it would a real (random-looking) token.
 */
export function bearerToken(bytes: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let seed = 0x2545f491;
  let token = 'ya29.';
  while (token.length < bytes) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    token += alphabet[(seed >>> 16) & 63];
  }
  return token.slice(0, Math.max(bytes, 5));
}

export interface HttpMessageCost {
  /** Start line + header lines + blank line. */
  headerBytes: number;
  bodyBytes: number;
  bytes: number;
  /** The text, for display. */
  text: string;
}

export interface PubsubRestCost {
  tokenBytes: number;
  request: HttpMessageCost;
  response: HttpMessageCost;
  total: number;
}

/**
 * The REST publish request and its 200 response as HTTP/1.1 text, with only the headers the call needs
 * (Host, Authorization, Content-Type, Content-Length). Client libraries add more (User-Agent,
 * x-goog-api-client …) and Google's front end answers with more (Date, Vary, Alt-Svc, Server …), so this is a
 * lower bound. The response body is compact JSON (`prettyPrint=false`; Google APIs pretty-print by default).
 */
export function pubsubRestPublish(
  payload: Buffer,
  options: { tokenBytes?: number; project?: string; topicId?: string } = {},
): PubsubRestCost {
  const tokenBytes = options.tokenBytes ?? PUBSUB_SAMPLE.tokenBytes;
  const body = JSON.stringify({ messages: [{ data: payload.toString('base64') }] });
  const path = `/v1/${pubsubTopicName(options.project, options.topicId)}:publish`;
  const request = http1(
    `POST ${path} HTTP/1.1`,
    [
      ['Host', 'pubsub.googleapis.com'],
      ['Authorization', `Bearer ${bearerToken(tokenBytes)}`],
      ['Content-Type', 'application/json'],
      ['Content-Length', String(Buffer.byteLength(body))],
    ],
    body,
  );
  const responseBody = JSON.stringify({ messageIds: [PUBSUB_SAMPLE.messageId] });
  const response = http1(
    'HTTP/1.1 200 OK',
    [
      ['Content-Type', 'application/json; charset=UTF-8'],
      ['Content-Length', String(Buffer.byteLength(responseBody))],
    ],
    responseBody,
  );
  return { tokenBytes, request, response, total: request.bytes + response.bytes };
}

function http1(startLine: string, headers: Array<[string, string]>, body: string): HttpMessageCost {
  const head = `${[startLine, ...headers.map(([k, v]) => `${k}: ${v}`)].join('\r\n')}\r\n\r\n`;
  const headerBytes = Buffer.byteLength(head);
  const bodyBytes = Buffer.byteLength(body);
  return { headerBytes, bodyBytes, bytes: headerBytes + bodyBytes, text: head + body };
}

// ── protobuf (proto3 wire format: tag varint, then length-delimited bytes for strings/messages) ─────────
function pbVarint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

function pbBytes(field: number, value: Buffer): Buffer {
  return Buffer.concat([pbVarint((field << 3) | 2), pbVarint(value.length), value]);
}

/** PublishRequest { string topic = 1; repeated PubsubMessage messages = 2; } with PubsubMessage { bytes data = 1; }. */
export function encodePublishRequest(topic: string, payloads: Buffer[]): Buffer {
  return Buffer.concat([pbBytes(1, Buffer.from(topic)), ...payloads.map((p) => pbBytes(2, pbBytes(1, p)))]);
}

/** PublishResponse { repeated string message_ids = 1; }. */
export function encodePublishResponse(messageIds: string[]): Buffer {
  return Buffer.concat(messageIds.map((id) => pbBytes(1, Buffer.from(id))));
}

/** gRPC length-prefixed message: compressed flag (1) + length (4, big-endian) + message. */
export function grpcFrame(message: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

export interface Http2Exchange {
  frames: WireRow[];
  /** Client → server bytes. */
  requestBytes: number;
  /** Server → client bytes. */
  responseBytes: number;
  bytes: number;
}

export interface PubsubGrpcCost {
  tokenBytes: number;
  /** Connection preface and SETTINGS exchange (once per connection). */
  setup: Http2Exchange;
  /** The first Publish on the connection: HPACK sends header names/values literally (and indexes them). */
  first: Http2Exchange;
  /** A later Publish on the same connection: most headers are now 1-byte references to HPACK's dynamic table. */
  later: Http2Exchange;
  /** Sizes of the protobuf messages inside the DATA frames. */
  publishRequestProto: number;
  publishResponseProto: number;
}

/**
 * Runs two Publish calls over HTTP/2 (h2c) through a counting proxy to a local stand-in server that answers
 * like Pub/Sub's gRPC endpoint (status 200, content-type application/grpc, a PublishResponse, trailer
 * grpc-status 0), and reports the frames on the wire.
 */
export async function measurePubsubGrpcPublish(payload: Buffer, options: { tokenBytes?: number } = {}): Promise<PubsubGrpcCost> {
  const tokenBytes = options.tokenBytes ?? PUBSUB_SAMPLE.tokenBytes;
  const topic = pubsubTopicName();
  const responseMessage = encodePublishResponse([PUBSUB_SAMPLE.messageId]);
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.on('data', () => {});
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(grpcFrame(responseMessage));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const proxy = await CountingProxy.start((server.address() as AddressInfo).port);
  const client = http2.connect(`http://127.0.0.1:${proxy.port}`);
  client.on('error', () => {});
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('remoteSettings', () => resolve());
      client.once('error', reject);
    });
    const conn = await proxy.connection(0);
    const setupUnits = await waitForUnits(
      conn,
      splitHttp2,
      { up: 0, down: 0 },
      (u) => u.up.some((f) => f.type === 'SETTINGS ACK') && u.down.some((f) => f.type === 'SETTINGS ACK'),
    );
    const setup = exchange(conn, setupUnits);
    const requestMessage = encodePublishRequest(topic, [payload]);
    const headers = {
      ':method': 'POST',
      ':scheme': 'https',
      ':authority': 'pubsub.googleapis.com',
      ':path': '/google.pubsub.v1.Publisher/Publish',
      'content-type': 'application/grpc',
      te: 'trailers',
      authorization: `Bearer ${bearerToken(tokenBytes)}`,
      // Routing header the Pub/Sub client libraries send with Publish (topic, URL-encoded).
      'x-goog-request-params': `topic=${encodeURIComponent(topic)}`,
    };
    const call = async (): Promise<Http2Exchange> => {
      const mark: Mark = conn.bytes;
      await new Promise<void>((resolve, reject) => {
        const req = client.request(headers, { endStream: false });
        req.on('data', () => {});
        req.on('trailers', () => {});
        req.on('end', () => resolve());
        req.on('error', reject);
        req.end(grpcFrame(requestMessage));
      });
      // The exchange ends with the server's trailers (HEADERS with END_STREAM); count once both sides are in.
      const units = await waitForUnits(
        conn,
        splitHttp2,
        mark,
        (u) =>
          u.up.some((f) => f.type === 'DATA') &&
          u.down.filter((f) => f.type === 'HEADERS').length >= 2 &&
          u.down.some((f) => f.type === 'DATA'),
      );
      return exchange(conn, units);
    };
    const first = await call();
    const later = await call();
    return { tokenBytes, setup, first, later, publishRequestProto: requestMessage.length, publishResponseProto: responseMessage.length };
  } finally {
    client.destroy();
    await proxy.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function exchange(conn: ProxiedConnection, units: { up: WireUnit[]; down: WireUnit[] }): Http2Exchange {
  const frames = timeOrdered(conn, units).map((u) => ({ direction: u.direction, type: u.type, bytes: u.bytes }));
  const requestBytes = sumBytes(frames.filter((f) => f.direction === '→'));
  const responseBytes = sumBytes(frames.filter((f) => f.direction === '←'));
  return { frames, requestBytes, responseBytes, bytes: requestBytes + responseBytes };
}

import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

/**
 * Where the ports handed out start: below the kernel's ephemeral range (ip_local_port_range), which
 * outgoing connections take their local ports from. A port picked from that range can be taken by any
 * client socket between the check and the server's bind, and a server restarted on its old port (a
 * killed broker) can find it taken the same way; below it only another listener can.
 */
function ephemeralStart(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(first) && first > 2048) return first;
  } catch {
    // not Linux: IANA's dynamic range starts at 49152
  }
  return 49152;
}

const RANGE_END = ephemeralStart();
const RANGE_START = Math.max(1024, RANGE_END - 16384);
/** Ports this process handed out already: not handed out twice, even when their server has not bound yet. */
const handedOut = new Set<number>();

/** Resolves true when `port` can be bound on 127.0.0.1 right now. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A TCP port that was free on 127.0.0.1 a moment ago (for servers that cannot take port 0): picked at
 * random below the ephemeral range, so only another server, not a client connection, can take it first.
 */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = RANGE_START + Math.floor(Math.random() * (RANGE_END - RANGE_START));
    if (handedOut.has(port) || !(await bindable(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port on 127.0.0.1 between ${RANGE_START} and ${RANGE_END} after 200 tries`);
}

/** Resolves once host:port (127.0.0.1 by default) accepts connections; rejects after `timeoutMs` or when `gaveUp()` says so. */
export async function waitForPort(port: number, timeoutMs: number, gaveUp: () => boolean = () => false, host = '127.0.0.1'): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (gaveUp()) throw new Error('the process exited');
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, host);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} not open after ${timeoutMs} ms`);
}

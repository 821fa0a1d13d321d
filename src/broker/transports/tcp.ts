import { createServer, type AddressInfo, type Server } from 'node:net';
import type { Broker } from '../broker.js';

/** A listening TCP transport. */
export interface Listener {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Serves MQTT over TCP: each socket becomes a broker connection. */
export async function listenTcp(broker: Broker, host: string, port: number): Promise<Listener> {
  const server: Server = createServer((socket) => {
    // Small MQTT packets must not wait for Nagle.
    socket.setNoDelay(true);
    broker.handle(socket, 'tcp', socket.remoteAddress);
  });
  return serve(server, host, port);
}

/** Listens and describes the listener: the port bound (port 0 picks one) and a close that waits. */
export async function serve(server: Server, host: string, port: number): Promise<Listener> {
  await listen(server, host, port);
  return {
    host,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A listen that failed: a one-line message, the system's code (EADDRINUSE, EACCES …) and the port asked for. */
export interface ListenError extends Error {
  code?: string;
  port: number;
}

/** Resolves once the server listens; rejects with a one-line ListenError (e.g. port in use). */
export function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const message =
        error.code === 'EADDRINUSE' ? `port ${port} on ${host} is already in use` : `cannot listen on ${host}:${port}: ${error.message}`;
      reject(Object.assign(new Error(message), { code: error.code, port }) as ListenError);
    };
    server.once('error', onError);
    server.listen(port, host);
    server.once('listening', () => {
      server.off('error', onError);
      resolve();
    });
  });
}

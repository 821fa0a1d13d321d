import { createServer, type TlsOptions as NodeTlsOptions } from 'node:tls';
import type { Broker } from '../broker.js';
import { serve, type Listener } from './tcp.js';

/** Certificates of a TLS listener (PEM), as Mosquitto's `certfile`, `keyfile`, `cafile`, `require_certificate`. */
export interface TlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
  /** CA that client certificates must chain to. */
  ca?: string | Buffer;
  /** Refuse clients without a certificate signed by `ca` during the TLS handshake. */
  requireCertificate?: boolean;
}

/** Node's server options for our TLS options (shared by MQTT over TLS and secure WebSocket). */
export function nodeTlsOptions(tls: TlsOptions): NodeTlsOptions {
  const requireCertificate = tls.requireCertificate === true;
  return { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: requireCertificate, rejectUnauthorized: requireCertificate };
}

/** Serves MQTT over TLS (MQTT 5.0 §5.4.5, conventionally port 8883): each secured socket becomes a connection. */
export async function listenTls(broker: Broker, host: string, port: number, tls: TlsOptions): Promise<Listener> {
  const server = createServer(nodeTlsOptions(tls), (socket) => {
    socket.setNoDelay(true);
    broker.handle(socket, 'tls', socket.remoteAddress);
  });
  // A failed handshake (no or untrusted client certificate, plain TCP on the TLS port) ends that socket only.
  server.on('tlsClientError', (_error, socket) => socket.destroy());
  return serve(server, host, port);
}

import { createServer, type IncomingMessage, type RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { Broker } from '../broker.js';
import { listen, type Listener } from './tcp.js';
import { nodeTlsOptions, type TlsOptions } from './tls.js';

/** Serves MQTT over WebSocket (subprotocol `mqtt`, MQTT 5.0 §6) on any path, for browsers; over TLS (wss) when given certificates. */
export async function listenWebSocket(broker: Broker, host: string, port: number, tls?: TlsOptions): Promise<Listener> {
  const onRequest: RequestListener = (_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket: connect with subprotocol "mqtt"\n');
  };
  const http = tls ? createHttpsServer(nodeTlsOptions(tls), onRequest) : createServer(onRequest);
  const wss = new WebSocketServer({
    server: http,
    // [MQTT-6.0.0-3] the server selects "mqtt" when the client offers it.
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
  });
  // The WebSocketServer re-emits its HTTP server's errors; listen() below reports a failed listen (port
  // in use) as a one-line error, so this copy must not become an unhandled 'error' event.
  wss.on('error', () => {});
  wss.on('connection', (socket, request: IncomingMessage) => {
    const stream = createWebSocketStream(socket);
    // [MQTT-6.0.0-1] MQTT travels in binary frames; any other data frame closes the connection. This
    // listener runs before the stream's own, which would otherwise pass the text on as bytes.
    socket.prependListener('message', (_data, isBinary) => {
      if (!isBinary) stream.destroy();
    });
    broker.handle(stream, tls ? 'websocket-tls' : 'websocket', request.socket.remoteAddress);
  });
  await listen(http, host, port);
  const address = http.address() as AddressInfo;
  return {
    host,
    port: address.port,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

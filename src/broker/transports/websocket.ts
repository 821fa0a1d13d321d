import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { Broker } from '../broker.js';
import { listen, type Listener } from './tcp.js';

/** Serves MQTT over WebSocket (subprotocol `mqtt`, MQTT 5.0 §6) on any path, for browsers. */
export async function listenWebSocket(broker: Broker, host: string, port: number): Promise<Listener> {
  const http = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket: connect with subprotocol "mqtt"\n');
  });
  const wss = new WebSocketServer({
    server: http,
    // [MQTT-6.0.0-3] the server selects "mqtt" when the client offers it.
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
  });
  wss.on('connection', (socket, request: IncomingMessage) => {
    const stream = createWebSocketStream(socket);
    // [MQTT-6.0.0-1] MQTT travels in binary frames; any other data frame closes the connection. This
    // listener runs before the stream's own, which would otherwise pass the text on as bytes.
    socket.prependListener('message', (_data, isBinary) => {
      if (!isBinary) stream.destroy();
    });
    broker.handle(stream, 'websocket', request.socket.remoteAddress);
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

import type { Duplex } from 'node:stream';
import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet';
import type { Broker } from './broker.js';
import type { ClientInfo } from './events.js';
import { Framer, PacketType, peekConnectVersion, type FramingError } from '../protocol/index.js';
import { dispatch } from './handlers/index.js';
import { checkFrame, checkPropertiesAllowed, checkPropertyBytes } from './packet-checks.js';
import { remainingExpirySeconds } from './message.js';
import {
  encodeAck,
  encodePublish,
  hasForwardedProperties,
  parseFlowPacket,
  publishPacket,
  sharedQos0Publish,
  type PublishFields,
} from './publish-codec.js';
import { PROTOCOL_MAX_PACKET_SIZE } from './options.js';
import { ProtocolViolation } from './protocol-violation.js';
import { ConnectReturnCode311, ReasonCode, reasonName } from '../protocol/index.js';
import { parseFrame } from './packet-parser.js';
import { writeInTurn } from './write-batch.js';
import type { Delivery, Session, SessionLink } from './session.js';

// mqtt-packet fills a cache of 65,536 two-byte Buffers (about 6 MB of heap) on its first generate(); without it a
// packet id costs a few more instructions to write. The setting is mqtt-packet's, for the whole process.
mqttPacket.writeToStream.cacheNumbers = false;

let nextConnectionId = 1;

/** Packets a client may send while its CONNECT waits for the cluster (`hold`): its whole window and then some. */
const MAX_HELD_FRAMES = 70_000;

/**
 * One network connection: turns bytes into packets for the handlers and packets into bytes, and holds
 * what lives only as long as the connection (protocol version, keep alive, will, topic aliases).
 */
export class Connection implements SessionLink {
  readonly id = nextConnectionId++;
  protocolVersion: 3 | 4 | 5 = 4;
  clientId: string | undefined;
  username: string | undefined;
  session: Session | undefined;
  will: IConnectPacket['will'];
  /** Keep alive in seconds as in force (the client's, or our Server Keep Alive). */
  keepalive = 0;
  lastPacketAt: number;
  readonly openedAt: number;
  connectReceived = false;
  connackSent = false;
  /** A refused CONNECT whose answer is held back (authFailureDelay): nothing more is read meanwhile. */
  refusalPending = false;
  clientReceiveMaximum = 65535;
  clientMaximumPacketSize = PROTOCOL_MAX_PACKET_SIZE;
  clientTopicAliasMaximum = 0;
  /** Topic Alias → topic set by the client on this connection [MQTT-3.3.2-10]; created by the first alias. */
  inboundAliases: Map<number, string> | undefined;
  /** Topic → the alias we gave it on this connection; created when the client allows aliases. */
  private outboundAliases: Map<string, number> | undefined;
  /** PUBLISHes waiting for a commit (see sendPublish): the ones after them wait too, so they leave in order. */
  private publishesAfterStore = 0;
  private readonly framer: Framer;
  private closed = false;
  /** Frames waiting while `hold` is in force. */
  private held: Buffer[] | undefined;
  private firstByteSeen = false;

  constructor(
    private readonly broker: Broker,
    private readonly stream: Duplex,
    readonly transport: string,
    readonly remoteAddress?: string,
  ) {
    this.openedAt = this.lastPacketAt = broker.clock.now();
    this.framer = new Framer(
      broker.options.maximumPacketSize,
      (frame) => this.onFrame(frame),
      (error) => this.onFramingError(error),
    );
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('error', () => this.close('socket error'));
    stream.on('close', () => this.close('connection closed by the client'));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** True while more than `maxBufferedBytes` wait in the write buffer (the client reads too slowly). */
  get congested(): boolean {
    return this.stream.writableLength > this.broker.options.maxBufferedBytes;
  }

  /** The identity used in events. */
  info(): ClientInfo {
    return {
      clientId: this.clientId ?? '',
      protocolVersion: this.protocolVersion,
      remoteAddress: this.remoteAddress,
      transport: this.transport,
    };
  }

  /** Serialises and writes a packet; false when it exceeds the client's Maximum Packet Size. */
  write(packet: Packet): boolean {
    if (this.closed) return false;
    const bytes = encodeAck(packet, this.protocolVersion) ?? mqttPacket.generate(packet, { protocolVersion: this.protocolVersion });
    return this.writeBytes(bytes, packet);
  }

  /** Writes a PUBLISH for a delivery, applying what differs per subscriber (ids, alias, expiry). */
  sendPublish(delivery: Delivery, packetId: number | undefined, dup: boolean): boolean {
    if (this.closed) return false;
    const message = delivery.message;
    const v5 = this.protocolVersion === 5;
    // [MQTT-3.3.2-6] forward the remaining lifetime, not the original interval.
    const expiry = v5 && message.expiresAt !== undefined ? remainingExpirySeconds(message, this.broker.clock.now()) : undefined;
    // [MQTT-3.3.4-3] every matching subscription's identifier, when delivered once.
    const subscriptionIds = v5 ? delivery.subscriptionIds : [];
    // With a crash-safe store a QoS 2 PUBLISH leaves only once its packet id is stored. A broker killed
    // before that restarts with the message still queued and sends it under another id, while the client
    // keeps the first id awaiting a PUBREL that never comes [MQTT-4.3.3-10]; MQTT.js counts such ids against
    // its Receive Maximum, and with ten of them it refuses every new QoS 2 PUBLISH and reconnects, forever.
    const afterStore = (delivery.qos === 2 && packetId !== undefined && this.broker.store.acksWait) || this.publishesAfterStore > 0;
    let topicAlias: number | undefined;
    let newAlias: number | undefined;
    if (v5 && this.clientTopicAliasMaximum > 0) {
      const aliases = (this.outboundAliases ??= new Map());
      topicAlias = aliases.get(message.topic);
      // A PUBLISH written later does not define an alias: one sent in between would use it first.
      if (topicAlias === undefined && aliases.size < this.clientTopicAliasMaximum && !afterStore) {
        // [MQTT-3.3.2-9] never above the client's Topic Alias Maximum.
        newAlias = topicAlias = aliases.size + 1;
      }
    }
    // An alias already known to the client replaces the topic [MQTT-3.3.2-12].
    const topic = topicAlias !== undefined && newAlias === undefined ? '' : message.topic;
    const forwarded = v5 && hasForwardedProperties(message);
    const listening = this.broker.events.listens('packetOut');
    // One encoding shared by every subscriber of a QoS 0 message without per-subscriber properties.
    const shared = !forwarded && delivery.qos === 0 && expiry === undefined && subscriptionIds.length === 0 && topicAlias === undefined;
    const fields: PublishFields | undefined =
      shared && !listening
        ? undefined
        : {
            topic,
            payload: message.payload,
            qos: delivery.qos,
            retain: delivery.retain,
            dup,
            packetId,
            messageExpiryInterval: expiry,
            subscriptionIds,
            topicAlias,
          };
    // The packet object only for mqtt-packet (forwarded properties) or a `packetOut` listener.
    const packet = fields && (forwarded || listening) ? publishPacket(fields, message.properties, v5) : undefined;
    let bytes: Buffer;
    if (forwarded) bytes = mqttPacket.generate(packet!, { protocolVersion: 5 });
    else if (shared) bytes = sharedQos0Publish(message, delivery.retain, this.protocolVersion);
    else bytes = encodePublish(fields!, this.protocolVersion);
    if (afterStore) {
      if (bytes.length > this.clientMaximumPacketSize) return false;
      this.publishesAfterStore++;
      // Should the commit fail, the connection closes: the count no longer matters.
      this.broker.whenStored(this, 'publish', () => {
        this.publishesAfterStore--;
        if (!this.closed) this.writeBytes(bytes, packet);
      });
    } else if (!this.writeBytes(bytes, packet)) return false;
    if (newAlias !== undefined) this.outboundAliases!.set(message.topic, newAlias);
    const stats = this.broker.stats;
    stats.messagesSent++;
    stats.publishOut[delivery.qos]++;
    stats.publishOutBytes[delivery.qos] += bytes.length;
    return true;
  }

  sendPubrel(packetId: number): void {
    // MQTT 5 §3.6.2.1: with Reason Code 0x00 and no properties the Reason Code and Property Length can be
    // omitted (Remaining Length 2); saying Success explicitly lets mqtt-packet write that 4-byte form.
    // Only once the 'pubrel' state is stored: a broker restarted in the 'publish' state would send the
    // PUBLISH again after its PUBREL [MQTT-4.3.3-6], and the subscriber would take it as a new message.
    this.broker.ackAfterStored(this, { cmd: 'pubrel', messageId: packetId, reasonCode: ReasonCode.Success });
  }

  /**
   * Ends the connection from the server side. After CONNACK on MQTT 5 a DISCONNECT with the reason
   * code goes first [MQTT-4.13.2-1]; before CONNACK an MQTT 5 client gets a CONNACK with it instead.
   */
  disconnect(reasonCode: number, reason: string): void {
    if (this.closed) return;
    if (this.protocolVersion === 5) {
      if (this.connackSent) this.write({ cmd: 'disconnect', reasonCode });
      else if (this.connectReceived) this.write({ cmd: 'connack', sessionPresent: false, reasonCode });
    }
    this.endAndClose(`${reason} [${reasonName(reasonCode)}]`);
  }

  /** Refuses a CONNECT: CONNACK with the failure code in the client's version, then close; reported as `connectionRefused`. */
  refuseConnect(reasonCode: number, returnCode311: number, reason: string, connect: IConnectPacket): void {
    if (this.closed) return;
    this.broker.events.emit('connectionRefused', {
      remoteAddress: this.remoteAddress,
      clientId: connect.clientId,
      username: connect.username,
      reasonCode,
      reason,
    });
    if (this.protocolVersion === 5) this.write({ cmd: 'connack', sessionPresent: false, reasonCode });
    else this.write({ cmd: 'connack', sessionPresent: false, returnCode: returnCode311 });
    this.endAndClose(`${reason} [${reasonName(reasonCode)}]`);
  }

  /** Closes the connection without a word (the client's DISCONNECT, or a 3.1.1 protocol error). */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.destroy();
    this.broker.connectionClosed(this, reason);
  }

  /**
   * Writes encoded bytes, false when over the client's Maximum Packet Size. The writes of one turn of the event
   * loop leave in one writev after its I/O (write-batch.ts); `packet` is given to a `packetOut` listener.
   */
  private writeBytes(bytes: Buffer, packet: Packet | undefined): boolean {
    if (bytes.length > this.clientMaximumPacketSize) return false;
    this.broker.stats.bytesSent += bytes.length;
    if (packet && this.broker.events.listens('packetOut')) this.broker.events.emit('packetOut', this.clientId, packet);
    writeInTurn(this.stream, bytes);
    return true;
  }

  private endAndClose(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.end();
    // Give the last packet a moment to leave, then make sure the socket is gone.
    setTimeout(() => this.stream.destroy(), 1000).unref();
    this.broker.connectionClosed(this, reason);
  }

  private onFramingError(error: FramingError): void {
    if (error === 'packet-too-large') {
      // [MQTT-3.2.2-15] a packet over our Maximum Packet Size ends the connection with 0x95.
      this.disconnect(ReasonCode.PacketTooLarge, 'packet larger than the maximum packet size');
    } else {
      this.disconnect(ReasonCode.MalformedPacket, 'malformed remaining length');
    }
  }

  private onData(chunk: Buffer): void {
    if (!this.firstByteSeen && chunk.length > 0) {
      this.firstByteSeen = true;
      // [MQTT-3.1.0-1] the first packet must be CONNECT: close on any other first byte, without waiting for the rest.
      if (chunk[0]! >> 4 !== PacketType.CONNECT) {
        this.close(`first packet type ${chunk[0]! >> 4} is not CONNECT`);
        return;
      }
    }
    // Everything a chunk leads to runs inside the handlers' catch, but an error outside it (framing, events)
    // must still end only this connection. Inline rather than Broker.guard(): no closure per socket read.
    try {
      this.framer.push(chunk);
    } catch (error) {
      this.broker.internalError('receive', error as Error);
      this.disconnect(ReasonCode.ImplementationSpecificError, 'internal error in receive');
    }
  }

  /**
   * Processes no further packet until `work` settles (a cluster handing over the session at CONNECT);
   * packets arriving meanwhile wait, in order, up to a bound.
   */
  hold(work: Promise<void>): void {
    this.held = [];
    void work.finally(() => {
      const frames = this.held ?? [];
      this.held = undefined;
      for (const frame of frames) this.onFrame(frame);
    });
  }

  private onFrame(frame: Buffer): void {
    if (this.closed || this.refusalPending) return;
    if (this.held) {
      if (this.held.length >= MAX_HELD_FRAMES) this.disconnect(ReasonCode.ReceiveMaximumExceeded, 'too many packets before CONNACK');
      else this.held.push(frame);
      return;
    }
    this.lastPacketAt = this.broker.clock.now();
    this.broker.stats.bytesReceived += frame.length;
    if (!this.connectReceived && !this.checkConnectVersion(frame)) return;
    let packet = this.connectReceived ? parseFlowPacket(frame, this.protocolVersion) : undefined;
    // The fast path takes only packets without properties, so there are none to check.
    const withoutProperties = packet !== undefined;
    let parseError: Error | undefined;
    if (!packet) ({ packet, error: parseError } = parseFrame(frame, this.protocolVersion));
    try {
      if (this.connectReceived) checkFrame(frame, this.protocolVersion);
      if (parseError || !packet) {
        throw new ProtocolViolation(ReasonCode.MalformedPacket, `malformed packet: ${parseError?.message ?? 'incomplete'}`);
      }
      if (!this.connectReceived && packet.cmd !== 'connect') {
        // [MQTT-3.1.0-1] the first packet must be CONNECT.
        this.close(`first packet was ${packet.cmd}, not connect`);
        return;
      }
      if (!withoutProperties) {
        checkPropertyBytes(frame, this.protocolVersion);
        checkPropertiesAllowed(packet);
      }
      if (packet.cmd === 'publish') {
        this.broker.stats.publishIn[packet.qos]++;
        this.broker.stats.publishInBytes[packet.qos] += frame.length;
      }
      if (this.broker.events.listens('packetIn')) this.broker.events.emit('packetIn', this.clientId, packet);
      dispatch(this.broker, this, packet);
    } catch (error) {
      if (error instanceof ProtocolViolation) {
        this.disconnect(error.reasonCode, error.message);
      } else {
        this.broker.events.emit('connectionError', this.remoteAddress, error as Error);
        this.disconnect(ReasonCode.ImplementationSpecificError, `internal error: ${(error as Error).message}`);
      }
    }
  }

  /** Answers an unsupported protocol name or level before the full parse [MQTT-3.1.2-1], [MQTT-3.1.2-2]. */
  private checkConnectVersion(frame: Buffer): boolean {
    const version = peekConnectVersion(frame);
    if (!version) return true;
    if (version.level === 5) this.protocolVersion = 5;
    const known =
      (version.name === 'MQTT' && (version.level === 4 || version.level === 5)) || (version.name === 'MQIsdp' && version.level === 3);
    if (known) return true;
    this.closed = true;
    if (version.name === 'MQTT' || version.name === 'MQIsdp') {
      // 3.1.1-form CONNACK: the only form a client of an unknown version can be expected to read.
      this.stream.write(Buffer.from([0x20, 0x02, 0x00, ConnectReturnCode311.UnacceptableProtocolVersion]));
    }
    this.stream.end();
    setTimeout(() => this.stream.destroy(), 1000).unref();
    this.broker.connectionClosed(this, `unsupported protocol ${version.name} level ${version.level}`);
    return false;
  }
}

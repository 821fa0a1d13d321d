import type { QoS } from 'mqtt-packet';
import type { DropReason } from './events.js';
import { Fifo } from './fifo.js';
import { isExpired, type Message } from './message.js';
import type { Subscription } from './subscription.js';

/** One message on its way to one subscriber, with what differs per subscriber. */
export interface Delivery {
  readonly message: Message;
  /** Effective QoS: min(published, granted) [MQTT-3.8.4-8]. */
  readonly qos: QoS;
  /** RETAIN flag to send: set for retained-on-subscribe, else per Retain As Published. */
  readonly retain: boolean;
  readonly subscriptionIds: readonly number[];
}

/** An outbound QoS 1/2 message awaiting its acknowledgement. */
export interface InflightEntry {
  readonly packetId: number;
  readonly delivery: Delivery;
  /** 'publish': awaiting PUBACK/PUBREC; 'pubrel': PUBREL sent, awaiting PUBCOMP. */
  state: 'publish' | 'pubrel';
}

/** What a session needs of the live connection it is attached to. */
export interface SessionLink {
  /** The client's Receive Maximum: bound on outbound QoS 1/2 in flight [MQTT-4.9.0-2]. */
  readonly clientReceiveMaximum: number;
  /** True while the bytes waiting to be written to the client are over the broker's limit. */
  readonly congested: boolean;
  /** Writes a PUBLISH; returns false when it was too large for the client and was discarded. */
  sendPublish(delivery: Delivery, packetId: number | undefined, dup: boolean): boolean;
  sendPubrel(packetId: number): void;
}

/** The bounds on what one session may hold for its client. */
export interface SessionLimits {
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
  readonly maxInflightBytes: number;
}

/** Hooks a session calls into the broker. */
export interface SessionHooks {
  readonly limits: SessionLimits;
  onDrop(clientId: string, message: Message, reason: DropReason): void;
  /** Called after a change to what a stored snapshot holds (queue, in-flight). */
  onChange(session: Session): void;
  /**
   * Asks to hold `bytes` more of QoS 1/2 messages in this session (a negative amount gives them back); false
   * when the broker-wide budget has no room, and then nothing is counted.
   */
  reserve(bytes: number): boolean;
  /** Epoch ms, from the broker's clock. */
  now(): number;
}

/** What a delivery counts against the byte budgets: its topic and payload. */
export function deliveryBytes(delivery: Delivery): number {
  return delivery.message.topic.length + delivery.message.payload.length;
}

/**
 * A client's session state (MQTT 5.0 §4.1): subscriptions, outbound in-flight and queued messages,
 * and the inbound QoS 2 packet ids not yet released. It outlives connections per Session Expiry.
 */
export class Session {
  readonly subscriptions = new Map<string, Subscription>();
  readonly inflight = new Map<number, InflightEntry>();
  readonly inboundQos2 = new Set<number>();
  /** Deliveries waiting for the in-flight window, oldest first (read-only outside: use `load`, `deliver`, `drain`). */
  readonly queue = new Fifo<Delivery>();
  /** Bytes of the queued deliveries. */
  queuedBytes = 0;
  /** Bytes of the in-flight deliveries. */
  inflightBytes = 0;
  /** Session Expiry Interval in seconds; 0xFFFFFFFF never expires [MQTT-3.1.2-23]. */
  expiryInterval = 0;
  /** Epoch ms when the last connection closed: the expiry counts from here [MQTT-3.1.2-23]. */
  disconnectedAt: number;
  link: SessionLink | undefined;
  /** User name of the client's latest CONNECT, for ACL checks on delivery. */
  username: string | undefined;
  private nextPacketId = 1;
  /** In-flight PUBLISH ids from an earlier connection not yet resent on this one, oldest first. */
  private awaitingResend: number[] = [];

  constructor(
    readonly clientId: string,
    private readonly hooks: SessionHooks,
  ) {
    this.disconnectedAt = hooks.now();
  }

  get connected(): boolean {
    return this.link !== undefined;
  }

  /** Hands a message to this session: sent now, queued while offline or over the window, or dropped. */
  deliver(delivery: Delivery, now: number): void {
    if (isExpired(delivery.message, now)) {
      this.hooks.onDrop(this.clientId, delivery.message, 'expired');
      return;
    }
    if (delivery.qos === 0) {
      // QoS 0 is not queued for an offline client (as Mosquitto's default queue_qos0_messages false).
      if (!this.link) this.hooks.onDrop(this.clientId, delivery.message, 'offline-qos0');
      // A client that does not read cannot grow our write buffer without bound: QoS 0 goes first.
      else if (this.link.congested) this.hooks.onDrop(this.clientId, delivery.message, 'write-buffer-full');
      else if (!this.link.sendPublish(delivery, undefined, false)) this.hooks.onDrop(this.clientId, delivery.message, 'too-large');
      return;
    }
    const bytes = deliveryBytes(delivery);
    if (this.link && this.queue.length === 0 && this.windowOpen(this.link, bytes)) {
      if (!this.hooks.reserve(bytes)) {
        this.hooks.onDrop(this.clientId, delivery.message, 'broker-queue-full');
        return;
      }
      this.sendInflight(delivery, bytes);
    } else {
      const limits = this.hooks.limits;
      if (this.queue.length >= limits.maxQueuedMessages || this.queuedBytes + bytes > limits.maxQueuedBytes) {
        this.hooks.onDrop(this.clientId, delivery.message, 'queue-full');
        return;
      }
      if (!this.hooks.reserve(bytes)) {
        this.hooks.onDrop(this.clientId, delivery.message, 'broker-queue-full');
        return;
      }
      this.queue.push(delivery);
      this.queuedBytes += bytes;
    }
    this.hooks.onChange(this);
  }

  /** Restores queued and in-flight deliveries (from a persistence), counting their bytes. */
  load(inflight: Iterable<InflightEntry>, queue: readonly Delivery[]): void {
    for (const entry of inflight) {
      const bytes = deliveryBytes(entry.delivery);
      this.inflight.set(entry.packetId, { ...entry });
      this.inflightBytes += bytes;
      this.hooks.reserve(bytes);
    }
    for (const delivery of queue) {
      const bytes = deliveryBytes(delivery);
      this.queue.push(delivery);
      this.queuedBytes += bytes;
      this.hooks.reserve(bytes);
    }
  }

  /** Queues deliveries ahead of the ones waiting (a session taken over from another node catching up). */
  prepend(deliveries: readonly Delivery[]): void {
    let bytes = 0;
    for (const delivery of deliveries) bytes += deliveryBytes(delivery);
    this.queue.prepend(deliveries);
    this.queuedBytes += bytes;
    this.hooks.reserve(bytes);
  }

  /** Gives every queued and in-flight byte back to the broker-wide budget (the session ends). */
  release(): void {
    this.hooks.reserve(-(this.queuedBytes + this.inflightBytes));
    this.queue.clear();
    this.inflight.clear();
    this.queuedBytes = 0;
    this.inflightBytes = 0;
  }

  /**
   * True when one more message of `bytes` may go out now: within the client's Receive Maximum [MQTT-4.9.0-2]
   * and our in-flight byte budget (always at least one message, so a large one cannot wait forever).
   */
  private windowOpen(link: SessionLink, bytes: number): boolean {
    if (this.inflight.size >= link.clientReceiveMaximum) return false;
    return this.inflight.size === 0 || this.inflightBytes + bytes <= this.hooks.limits.maxInflightBytes;
  }

  /** PUBACK or PUBCOMP: the message is done; the window opens for the next queued one. */
  complete(packetId: number): boolean {
    const entry = this.inflight.get(packetId);
    if (!entry) return false;
    this.inflight.delete(packetId);
    this.forgetInflight(deliveryBytes(entry.delivery));
    if (this.awaitingResend.length > 0) this.awaitingResend = this.awaitingResend.filter((id) => id !== packetId);
    this.hooks.onChange(this);
    this.drain(this.hooks.now());
    return true;
  }

  /** PUBREC: release the packet id with PUBREL, or end the flow when the receiver refused it [MQTT-4.3.3-4]. */
  received(packetId: number, refused: boolean): boolean {
    const entry = this.inflight.get(packetId);
    if (!entry) return false;
    if (refused) {
      this.complete(packetId);
      return true;
    }
    entry.state = 'pubrel';
    this.hooks.onChange(this);
    this.link?.sendPubrel(packetId);
    return true;
  }

  /**
   * Attaches a connection. What was in flight is sent again: PUBREL for released ids, PUBLISH with
   * DUP=1 for the rest [MQTT-4.4.0-1] — within the client's new Receive Maximum [MQTT-3.3.4-9].
   */
  attach(link: SessionLink, now: number): void {
    this.link = link;
    this.awaitingResend = [];
    for (const entry of this.inflight.values()) {
      if (entry.state === 'pubrel') link.sendPubrel(entry.packetId);
      else this.awaitingResend.push(entry.packetId);
    }
    this.drain(now);
  }

  detach(now: number): void {
    this.link = undefined;
    this.disconnectedAt = now;
  }

  /**
   * Sends what waits while the client's Receive Maximum allows: first the resends from an earlier
   * connection (their ids are already counted in flight), then queued messages, dropping expired ones.
   */
  drain(now: number): void {
    const link = this.link;
    if (!link) return;
    while (this.awaitingResend.length > 0 && this.inflight.size - this.awaitingResend.length < link.clientReceiveMaximum) {
      const packetId = this.awaitingResend.shift()!;
      link.sendPublish(this.inflight.get(packetId)!.delivery, packetId, true);
    }
    if (this.awaitingResend.length > 0) return;
    // One message leaves per acknowledgement: Fifo.shift() is O(1) however long the queue is.
    let moved = 0;
    while (this.queue.length > 0 && this.windowOpen(link, deliveryBytes(this.queue.peek()!))) {
      const delivery = this.queue.shift()!;
      const bytes = deliveryBytes(delivery);
      this.queuedBytes -= bytes;
      moved++;
      if (isExpired(delivery.message, now)) {
        this.hooks.reserve(-bytes);
        this.hooks.onDrop(this.clientId, delivery.message, 'expired');
      } else {
        // Moved from the queue to the window: still held, so the broker-wide count does not change.
        this.sendInflight(delivery, bytes);
      }
    }
    // The queue changed: the persistence stores it (with the durable store, before the next acks).
    if (moved > 0) this.hooks.onChange(this);
  }

  /** Sends a delivery whose `bytes` are already reserved in the broker-wide budget. */
  private sendInflight(delivery: Delivery, bytes: number): void {
    const packetId = this.allocatePacketId();
    if (packetId === undefined) {
      this.queue.push(delivery);
      this.queuedBytes += bytes;
      return;
    }
    this.inflight.set(packetId, { packetId, delivery, state: 'publish' });
    this.inflightBytes += bytes;
    if (!this.link!.sendPublish(delivery, packetId, false)) {
      // [MQTT-3.1.2-25] too large for the client: discard as if delivery had completed.
      this.inflight.delete(packetId);
      this.forgetInflight(bytes);
      this.hooks.onDrop(this.clientId, delivery.message, 'too-large');
    }
  }

  /** An in-flight message is done: its bytes leave this session's count and the broker-wide one. */
  private forgetInflight(bytes: number): void {
    this.inflightBytes -= bytes;
    this.hooks.reserve(-bytes);
  }

  private allocatePacketId(): number | undefined {
    for (let tries = 0; tries < 65535; tries++) {
      const id = this.nextPacketId;
      this.nextPacketId = id === 65535 ? 1 : id + 1;
      if (!this.inflight.has(id)) return id;
    }
    return undefined;
  }
}

/** QoS as a number type guard helper: the smaller of two QoS levels. */
export function minQos(a: QoS, b: QoS): QoS {
  return (a < b ? a : b) as QoS;
}

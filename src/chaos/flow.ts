import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { QoS } from 'mqtt-packet';
import { ReasonCode } from '../protocol/index.js';
import { QosTally } from './tally.js';

/** What one QoS flow needs: where to connect, its topic and ids, and its limits. */
export interface FlowSettings {
  url: string;
  topic: string;
  /** Client ids are `<prefix>-pub` and `<prefix>-sub`. */
  clientIdPrefix: string;
  messages: number;
  /** Messages the publisher keeps unacknowledged at most. */
  window: number;
  /** The subscriber's Receive Maximum: how many unacknowledged PUBLISHes the broker may send it. */
  receiveMaximum: number;
}

/** MQTT.js's answer for a publish queued while the connection closed: it never left the client. */
const NEVER_SENT = /Connection closed/;
const RETRY_DELAY_MS = 50;

/**
 * A PUBCOMP with 0x92 Packet Identifier not found answering a PUBREL sent again after a reconnect: the
 * server had completed the flow before the link broke, "not an error during recovery" (MQTT 5.0 §3.7.2.1).
 */
function isRecoveredPubcomp(error: Error): boolean {
  return (error as Error & { code?: number }).code === ReasonCode.PacketIdentifierNotFound;
}
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * One QoS level of a chaos run: a publisher and a persistent-session subscriber (Clean Start 0, Session
 * Expiry 1 h, automatic reconnect), each an MQTT.js client, and the tally of what went through.
 */
export class ChaosFlow {
  readonly tally: QosTally;
  readonly reconnects = { publisher: 0, subscriber: 0 };
  private publisher: MqttClient | undefined;
  private subscriber: MqttClient | undefined;
  private lastDeliveryAt = 0;

  constructor(
    readonly qos: QoS,
    private readonly settings: FlowSettings,
  ) {
    this.tally = new QosTally(qos);
  }

  /** The topic this flow publishes on. */
  get topic(): string {
    return this.settings.topic;
  }

  /** True when every message sent is acknowledged (QoS 1, 2) and every one the contract covers has arrived. */
  done(): boolean {
    return (this.qos === 0 || this.tally.acknowledgedCount === this.tally.sent) && this.tally.caughtUp();
  }

  /** Connects both clients and subscribes (retrying while the link breaks), until `deadline`. */
  async start(deadline: number): Promise<void> {
    const { receiveMaximum, topic } = this.settings;
    this.subscriber = await this.connect('sub', { properties: { sessionExpiryInterval: 3600, receiveMaximum } }, deadline);
    this.subscriber.on('message', (_topic, payload) => {
      this.lastDeliveryAt = Date.now();
      this.tally.delivered(Number(payload.toString()));
    });
    // Granted QoS 2, so each message arrives at the QoS it was published with [MQTT-3.8.4-8].
    for (;;) {
      try {
        // resubscribe: MQTT.js skips a topic it already tried to subscribe to, even when that SUBSCRIBE was
        // lost with the connection and the resumed session (Session Present 1) never got it.
        await this.subscriber.subscribeAsync({ [topic]: { qos: 2 }, resubscribe: true } as mqtt.ISubscriptionMap);
        break;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`the subscriber could not subscribe before the deadline: ${(error as Error).message}`);
        await sleep(50);
      }
    }
    this.publisher = await this.connect('pub', { properties: { sessionExpiryInterval: 3600 } }, deadline);
  }

  /**
   * Publishes messages 0..n-1 with at most `window` unacknowledged (QoS 1, 2); one that never left the
   * client (queued when its connection closed) is published again. Resolves when all are acknowledged or at `deadline`.
   */
  publishAll(deadline: number): Promise<void> {
    if (this.qos === 0) return this.publishQos0(deadline);
    const publisher = this.publisher!;
    const { messages, window, topic } = this.settings;
    const again: number[] = [];
    let next = 0;
    let inFlight = 0;
    let retryTimer: NodeJS.Timeout | undefined;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(finish, Math.max(0, deadline - Date.now()));
      function finish(): void {
        clearTimeout(timer);
        clearTimeout(retryTimer);
        resolve();
      }
      const settle = (seq: number, error: Error | undefined) => {
        inFlight--;
        if (!error || isRecoveredPubcomp(error)) {
          if (this.qos > 0) this.tally.acked(seq);
        } else if (NEVER_SENT.test(error.message)) {
          // Not sent: publish it again once the client had a moment to reconnect.
          again.push(seq);
          retryTimer ??= setTimeout(() => {
            retryTimer = undefined;
            pump();
          }, RETRY_DELAY_MS);
          return;
        }
        pump();
      };
      const pump = () => {
        while (inFlight < window && (next < messages || (again.length > 0 && retryTimer === undefined)) && Date.now() < deadline) {
          const first = again.length === 0 || retryTimer !== undefined;
          const seq = first ? next++ : again.shift()!;
          if (first) this.tally.sent++;
          inFlight++;
          publisher.publish(topic, String(seq), { qos: this.qos }, (error) => settle(seq, error));
        }
        if (inFlight === 0 && again.length === 0 && next >= messages) finish();
      };
      pump();
    });
  }

  /**
   * QoS 0 has nothing to wait for: messages go out `window` at a time every 10 ms, like readings, and
   * only while the publisher is connected (a reading taken while offline is not sent).
   */
  private async publishQos0(deadline: number): Promise<void> {
    const publisher = this.publisher!;
    const { messages, window, topic } = this.settings;
    while (this.tally.sent < messages && Date.now() < deadline) {
      if (publisher.connected) {
        for (let i = 0; i < window && this.tally.sent < messages; i++) publisher.publish(topic, String(this.tally.sent++), { qos: 0 });
      }
      await sleep(10);
    }
  }

  /**
   * Waits until every sent message is acknowledged and has arrived, or `deadline`; gives up earlier on
   * messages that stop coming: QoS 0 after 2 s without a delivery, QoS 1 and 2 after 10 s once every
   * message is acknowledged (what the broker still has arrives within that on a perfect link).
   */
  async drain(deadline: number): Promise<void> {
    const quietMs = this.qos === 0 ? 2000 : 10_000;
    const since = Date.now();
    while (Date.now() < deadline && !this.done()) {
      const acknowledged = this.qos === 0 || this.tally.acknowledgedCount === this.tally.sent;
      if (acknowledged && Date.now() - Math.max(this.lastDeliveryAt, since) > quietMs) return;
      await sleep(20);
    }
  }

  /** Closes both clients at once (no DISCONNECT needed: the run is over). */
  close(): void {
    this.publisher?.end(true);
    this.subscriber?.end(true);
  }

  private async connect(role: 'pub' | 'sub', extra: IClientOptions, deadline: number): Promise<MqttClient> {
    const client = mqtt.connect(this.settings.url, {
      protocolVersion: 5,
      clientId: `${this.settings.clientIdPrefix}-${role}`,
      clean: false,
      reconnectPeriod: 100,
      connectTimeout: 3000,
      keepalive: 30,
      ...extra,
    });
    // Resets and refused connections are what a chaos run is made of; MQTT.js reconnects by itself.
    client.on('error', () => {});
    let connects = 0;
    client.on('connect', () => {
      if (connects++ > 0) this.reconnects[role === 'pub' ? 'publisher' : 'subscriber']++;
      (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    });
    while (connects === 0) {
      if (Date.now() > deadline) {
        client.end(true);
        throw new Error(`the ${role === 'pub' ? 'publisher' : 'subscriber'} could not connect to ${this.settings.url} before the deadline`);
      }
      await sleep(20);
    }
    return client;
  }
}

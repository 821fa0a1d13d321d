import { EventEmitter } from 'node:events';
import type { Packet } from 'mqtt-packet';
import type { Message } from './message.js';

/** Who a connection is, as reported in events. */
export interface ClientInfo {
  clientId: string;
  protocolVersion: 3 | 4 | 5;
  remoteAddress?: string;
  transport: string;
}

/** Why a message did not reach a subscriber. */
export type DropReason =
  | 'expired'
  | 'queue-full'
  | 'broker-queue-full'
  | 'offline-qos0'
  | 'too-large'
  | 'not-authorized'
  | 'write-buffer-full';

/** A connection ended before it was accepted: a refused CONNECT (with its reason code) or no CONNECT in time. */
export interface ConnectionRefusal {
  remoteAddress?: string;
  clientId?: string;
  username?: string;
  /** The CONNACK reason code; undefined when the client never sent CONNECT. */
  reasonCode?: number;
  reason: string;
}

/** A client was not allowed to publish to or subscribe to a topic (ACL). */
export interface AccessDenial {
  clientId: string;
  username?: string;
  action: 'publish' | 'subscribe' | 'will';
  topic: string;
}

/** The broker's typed events, so tools can show what crossed the wire. */
export interface BrokerEvents {
  clientConnected: [client: ClientInfo, sessionPresent: boolean];
  clientDisconnected: [client: ClientInfo, reason: string];
  packetIn: [clientId: string | undefined, packet: Packet];
  packetOut: [clientId: string | undefined, packet: Packet];
  messagePublished: [message: Message, matchedSubscribers: number];
  messageDropped: [clientId: string, message: Message, reason: DropReason];
  willPublished: [clientId: string, message: Message];
  sessionExpired: [clientId: string];
  connectionError: [remoteAddress: string | undefined, error: Error];
  connectionRefused: [refusal: ConnectionRefusal];
  accessDenied: [denial: AccessDenial];
  /** An unexpected error in the broker's own code, caught where it happened; `where` names the path. */
  internalError: [where: string, error: Error];
  /** Storing state failed; the acknowledgements waiting for it were not sent. */
  persistenceError: [error: Error];
}

/** An EventEmitter whose event names and arguments are checked by the compiler. */
export class TypedEmitter<E extends { [K in keyof E]: unknown[] }> {
  private readonly emitter = new EventEmitter();

  on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.emitter.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.emitter.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** True when someone listens, so hot paths skip building event arguments nobody reads. */
  listens<K extends keyof E & string>(event: K): boolean {
    return this.emitter.listenerCount(event) > 0;
  }

  emit<K extends keyof E & string>(event: K, ...args: E[K]): void {
    this.emitter.emit(event, ...args);
  }
}

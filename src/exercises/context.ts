import { randomBytes } from 'node:crypto';
import type { MqttClient, IClientOptions } from 'mqtt';
import { connectMqtt, disconnect, PacketTrace } from '../client/index.js';

/** What every exercise gets: where the broker is, a packet trace, and topic/client-id namespacing. */
export class ExerciseContext {
  readonly trace = new PacketTrace();
  private readonly clients = new Set<MqttClient>();
  /** Short id of this run, in client ids (and topics on a shared broker) so runs never collide. */
  readonly runId = randomBytes(3).toString('hex');

  /** What the broker calls itself (`$SYS/broker/version`), for sentences about what it did. */
  readonly brokerName: string;
  /** Show every line of long traces instead of the first few. */
  readonly verbose: boolean;

  constructor(
    readonly url: string,
    /** Prefix for every topic: empty on our own embedded broker, `mqttlab/<run>/` on a shared one. */
    readonly topicPrefix = '',
    options: { brokerName?: string; verbose?: boolean } = {},
  ) {
    this.brokerName = options.brokerName ?? 'the broker';
    this.verbose = options.verbose ?? false;
  }

  /** The first `count` lines of a long trace (all of them with --verbose), and how many were left out. */
  shorten(lines: string[], count: number): string[] {
    if (this.verbose || lines.length <= count) return lines;
    return [...lines.slice(0, count), `  … ${lines.length - count} more (--verbose shows all)`];
  }

  /** A topic of the exercise, namespaced for this run when the broker is shared. */
  topic(name: string): string {
    return this.topicPrefix + name;
  }

  /** A client id unique to this run. */
  clientId(name: string): string {
    return `${name}-${this.runId}`;
  }

  /** Connects an MQTT 5 client, traced under `label`; closed by `closeAll`. */
  async connect(label: string, options: IClientOptions = {}): Promise<MqttClient> {
    return this.connectTo(this.url, label, options);
  }

  /** Connects an MQTT 5 client to another address (a link proxy in front of the broker), traced under `label`; closed by `closeAll`. */
  async connectTo(url: string, label: string, options: IClientOptions = {}): Promise<MqttClient> {
    const client = await connectMqtt(url, { clientId: this.clientId(label), ...options }, (c) => this.trace.trace(c, label));
    this.clients.add(client);
    return client;
  }

  /** Stops tracking a client (after it was dropped on purpose). */
  forget(client: MqttClient): void {
    this.clients.delete(client);
  }

  /** Disconnects every client still open. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.clients].map((c) => (c.connected ? disconnect(c) : disconnect(c, true))));
    this.clients.clear();
  }
}

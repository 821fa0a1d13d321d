import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt';
import { connectMqtt, disconnect, dropConnection, watchConnection, type ConnectionChange } from '../client/index.js';
import { Random } from '../util/index.js';
import { Backoff, reconnectWithBackoff } from './backoff.js';
import { SensorModel, type SensorAlert } from './sensors.js';
import { alertTopic, commandTopic, parseCommandTopic, statusTopic, telemetryTopic } from './topics.js';

/** What a device sent, for the fleet's counters. */
export type SentKind = 'telemetry' | 'alert' | 'status' | 'reply';

export interface DeviceOptions {
  url: string;
  id: string;
  site: string;
  /** Milliseconds between two rounds of readings. */
  intervalMs: number;
  /** Seed of the sensor model (same seed, same readings). */
  seed: number;
  /** Prefix of alert ids, unique per fleet run, so ids never repeat across runs. */
  runId: string;
  /** Will Delay Interval in seconds [MQTT-3.1.3-9]: 0 flips presence at once. */
  willDelaySeconds?: number;
  heatEventProbability?: number;
  /** Called for every PUBLISH the device completed (QoS 0: written; QoS 1/2: acknowledged). */
  onSent?: (kind: SentKind, qos: 0 | 1 | 2) => void;
  /** Called when a publish failed or the connection broke. */
  onError?: (error: Error) => void;
  /** Called when the device loses its broker (not when killed on purpose) and when it reconnected. */
  onConnection?: (change: ConnectionChange) => void;
  /**
   * Name of the emulated link `url` leads through (announced in the status's user properties). With a link
   * the device keeps a persistent session and reconnects with backoff, as a device on a real network does.
   */
  link?: string;
}

/** Session Expiry (s) of a device on a link: its session, subscriptions and in-flight alerts outlive a cut. */
export const LINKED_SESSION_EXPIRY_S = 300;
/** Receive Maximum of a device on a link: QoS 1/2 commands the broker may have in flight to it. */
const LINKED_RECEIVE_MAXIMUM = 10;
/** Attempts of a device on a link to get a QoS 1/2 PUBLISH into MQTT.js's store (see untilQueued). */
const LINKED_PUBLISH_ATTEMPTS = 10;
/** Attempts of a device on a link to get its first CONNACK before the fleet gives up on it. */
const FIRST_CONNECT_ATTEMPTS = 8;
/** Socket errors that mean the link was cut. */
const LINK_SOCKET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT']);
/** How long start() on a link waits for the first SUBACK before it goes on (the next connection subscribes again). */
const FIRST_SUBACK_WAIT_MS = 10_000;
/** How long stop() waits for the `offline` PUBACK and the DISCONNECT before it closes the socket. */
const STOP_WAIT_MS = 5000;

/** Commands a device answers; anything else gets `{ok: false}` with this list. */
export const DEVICE_COMMANDS = ['ping', 'status', 'set-interval', 'alert'] as const;

/**
 * One simulated device: its own MQTT 5 connection with a will (retained `offline` on its status
 * topic), retained `online` once connected, readings at QoS 0, alerts at QoS 1, and commands answered
 * by request/reply at QoS 2.
 */
export class SimulatedDevice {
  readonly id: string;
  readonly site: string;
  private readonly options: DeviceOptions;
  private readonly model: SensorModel;
  private client: MqttClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private intervalMs: number;
  private alertSeq = 0;
  private readingSeq = 0;
  private connectedAt = 0;
  private everConnected = false;
  private cancelReconnect: (() => void) | undefined;
  private readonly backoff: Backoff;
  /** Connections after the first one: automatic reconnects and returns after kill(). */
  reconnects = 0;
  /** Counts kill() and stop(): a start() still connecting when one comes drops what it made instead of reporting. */
  private lives = 0;

  constructor(options: DeviceOptions) {
    this.options = options;
    this.id = options.id;
    this.site = options.site;
    this.intervalMs = options.intervalMs;
    this.model = new SensorModel(options.seed, { heatEventProbability: options.heatEventProbability });
    this.backoff = new Backoff(new Random(options.seed ^ 0xb0ff));
  }

  /** Readings this device has published so far (its last sequence number). */
  get readingsSent(): number {
    return this.readingSeq;
  }

  /** True while the device has a live connection. */
  get online(): boolean {
    return this.client?.connected === true;
  }

  /** Connects (with the will), announces `online`, listens for commands and starts reporting. */
  async start(): Promise<void> {
    if (this.client) return;
    const life = this.lives;
    const linked = this.options.link !== undefined;
    const client = linked ? await this.connectOverLink() : await connectMqtt(this.options.url, this.connectOptions());
    if (life !== this.lives || this.client) {
      // Killed or stopped while connecting (chaos, a fleet stopping), or started twice: this connection is not wanted.
      await disconnect(client, true);
      return;
    }
    this.client = client;
    this.connectedAt = Date.now();
    if (this.everConnected) this.reconnects++;
    this.everConnected = true;
    client.on('message', (topic, payload, packet) => this.onCommand(topic, payload, packet));
    client.on('error', (error) => {
      // On a link, a reset socket is the link being cut: reported as lost and reconnected, not as an error.
      if (!(linked && LINK_SOCKET_ERRORS.has((error as NodeJS.ErrnoException).code ?? ''))) this.options.onError?.(error);
    });
    const mine = () => this.client === client;
    watchConnection(client, (change) => this.options.onConnection?.(change), linked ? mine : undefined);
    if (linked) this.cancelReconnect = reconnectWithBackoff(client, this.backoff, mine);
    // After an automatic reconnect the will has said `offline`: say `online` again.
    client.on('connect', () => {
      this.connectedAt = Date.now();
      this.reconnects++;
      this.announce('online');
    });
    await this.subscribeCommands(client, linked);
    if (linked) this.announce('online');
    else await this.announce('online');
    // Spread the fleet's readings over the interval instead of all at the same millisecond; not if the
    // device was killed or stopped while it announced itself (its timers would outlive it).
    if (life !== this.lives) return;
    this.startTimer = setTimeout(() => this.schedule(), Math.floor(Math.random() * this.intervalMs));
  }

  /**
   * Subscribes to the device's commands. On a link a cut SUBSCRIBE is not resent by MQTT.js (only PUBLISH and
   * PUBREL are), so it subscribes on every connection — the same filter again replaces the subscription in the
   * resumed session [MQTT-3.8.4-3] — and waits for the first SUBACK (bounded), so commands sent once the
   * fleet is up find the subscription.
   */
  private async subscribeCommands(client: MqttClient, linked: boolean): Promise<void> {
    if (!linked) {
      await client.subscribeAsync(commandTopic(this.id, '+'), { qos: 2 });
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      const subscribe = () => client.subscribe(commandTopic(this.id, '+'), { qos: 2 }, (error) => error || resolve());
      client.on('connect', subscribe);
      subscribe();
      timer = setTimeout(resolve, FIRST_SUBACK_WAIT_MS);
    });
    clearTimeout(timer);
  }

  /** MQTT.js options: a clean session that reconnects every 2 s, or on a link a persistent one (Clean Start 0). */
  private connectOptions(): IClientOptions {
    const linked = this.options.link !== undefined;
    return {
      clientId: `device-${this.id}`,
      clean: !linked,
      keepalive: 30,
      // Reconnect like a real device when the broker goes away; kill() turns this off first. On a link
      // reconnectWithBackoff does it, with growing delays.
      reconnectPeriod: linked ? 0 : 2000,
      // On a link, a small Receive Maximum (§3.1.2.11.3, §4.9): a resumed session resends every unacknowledged
      // QoS 1/2 message at once, and on a link that cuts per packet a large window breaks the link again
      // before the device can acknowledge any (exercise 4 shows it); 10 in flight gets through.
      properties: linked
        ? { sessionExpiryInterval: LINKED_SESSION_EXPIRY_S, receiveMaximum: LINKED_RECEIVE_MAXIMUM }
        : { sessionExpiryInterval: 0 },
      will: {
        topic: statusTopic(this.id),
        payload: Buffer.from('offline'),
        qos: 1,
        retain: true,
        properties: {
          willDelayInterval: this.options.willDelaySeconds ?? 0,
          contentType: 'text/plain',
          userProperties: { site: this.site },
        },
      },
    };
  }

  /** The first connection over a link, retried with backoff: the link may cut the CONNECT or the CONNACK. */
  private async connectOverLink(): Promise<MqttClient> {
    for (let attempt = 1; ; attempt++) {
      try {
        const client = await connectMqtt(this.options.url, this.connectOptions());
        this.backoff.reset();
        return client;
      } catch (error) {
        if (attempt >= FIRST_CONNECT_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, this.backoff.next()));
      }
    }
  }

  /** Drops the connection without DISCONNECT (power loss): the broker publishes the will. */
  kill(): void {
    this.halt();
    this.cancelReconnect?.();
    if (this.client) dropConnection(this.client);
    this.client = undefined;
  }

  /** Announces `offline` itself, then disconnects normally (no will [MQTT-3.1.2-10]). */
  async stop(): Promise<void> {
    this.halt();
    this.cancelReconnect?.();
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    client.options.reconnectPeriod = 0;
    if (client.connected) {
      const graceful = async () => {
        await this.publish(client, statusTopic(this.id), 'offline', 1, true, 'status').catch(() => {});
        await disconnect(client);
      };
      // A link may cut the PUBACK or the DISCONNECT: give up waiting after a bound, then close the socket.
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_WAIT_MS)));
      if ((await Promise.race([graceful(), bound])) === 'late') await disconnect(client, true);
      clearTimeout(timer);
    } else {
      await disconnect(client, true);
    }
  }

  /** Publishes an alert at QoS 1 and resolves when the broker acknowledged it (PUBACK). */
  async raiseAlert(alert: SensorAlert): Promise<void> {
    const client = this.client;
    if (!client) throw new Error(`${this.id} is not connected`);
    const body = { id: `${this.options.runId}-${this.id}-${++this.alertSeq}`, ...alert, ts: Date.now() };
    await this.publish(client, alertTopic(this.site, this.id), JSON.stringify(body), 1, false, 'alert');
  }

  private halt(): void {
    this.lives++;
    clearTimeout(this.startTimer);
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    clearInterval(this.timer);
    this.report();
    this.timer = setInterval(() => this.report(), this.intervalMs);
  }

  private report(): void {
    const client = this.client;
    if (!client?.connected) return;
    const now = Date.now();
    const { readings, alerts } = this.model.step(now);
    for (const r of readings) {
      this.publish(
        client,
        telemetryTopic(this.site, this.id, r.metric),
        // seq numbers the device's readings of this run, so ingestion counts the QoS 0 ones lost (gaps).
        JSON.stringify({ v: r.v, unit: r.unit, ts: now, seq: ++this.readingSeq, run: this.options.runId }),
        0,
        false,
        'telemetry',
      ).catch((e: Error) => this.options.onError?.(e));
    }
    for (const alert of alerts) this.raiseAlert(alert).catch((e: Error) => this.options.onError?.(e));
  }

  private announce(status: 'online' | 'offline'): Promise<void> {
    const client = this.client;
    if (!client) return Promise.resolve();
    return this.publish(client, statusTopic(this.id), status, 1, true, 'status').catch((e: Error) => this.options.onError?.(e));
  }

  private publish(
    client: MqttClient,
    topic: string,
    payload: string,
    qos: 0 | 1 | 2,
    retain: boolean,
    kind: SentKind,
    properties: IPublishPacket['properties'] = {},
  ): Promise<void> {
    const props =
      kind === 'status'
        ? { contentType: 'text/plain', userProperties: this.statusProperties(), ...properties }
        : { contentType: 'application/json', ...properties };
    const once = () =>
      new Promise<void>((resolve, reject) =>
        client.publish(topic, payload, { qos, retain, properties: props }, (error) => (error ? reject(error) : resolve())),
      );
    const linked = this.options.link !== undefined && qos > 0;
    return (linked ? this.untilQueued(client, once) : once()).then(() => this.options.onSent?.(kind, qos));
  }

  /**
   * Publishes again when MQTT.js gives up on a QoS 1/2 message before it was stored: one published while it
   * resends a resumed session's messages is dropped with "Connection closed" if the link breaks meanwhile.
   * It had not been sent, and an alert carries its id, so trying again cannot store anything twice.
   */
  private async untilQueued(client: MqttClient, publish: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await publish();
      } catch (error) {
        if (attempt >= LINKED_PUBLISH_ATTEMPTS || this.client !== client) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  }

  /** The status's user properties: the site, and on a link its name and the reconnects so far. */
  private statusProperties(): Record<string, string> {
    const link = this.options.link;
    return link === undefined ? { site: this.site } : { site: this.site, link, reconnects: String(this.reconnects) };
  }

  /** Request/reply [MQTT-4.10]: answer on the Response Topic, echoing the Correlation Data. */
  private onCommand(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const parsed = parseCommandTopic(topic);
    const responseTopic = packet.properties?.responseTopic;
    const client = this.client;
    if (!parsed || parsed.device !== this.id || !responseTopic || !client) return;
    const reply = this.answer(parsed.command, payload);
    const properties: IPublishPacket['properties'] = {};
    if (packet.properties?.correlationData) properties.correlationData = packet.properties.correlationData;
    this.publish(
      client,
      responseTopic,
      JSON.stringify({ device: this.id, command: parsed.command, ...reply, ts: Date.now() }),
      2,
      false,
      'reply',
      properties,
    ).catch((e: Error) => this.options.onError?.(e));
  }

  private answer(command: string, payload: Buffer): Record<string, unknown> {
    let args: Record<string, unknown> = {};
    if (payload.length > 0) {
      try {
        const parsed: unknown = JSON.parse(payload.toString('utf8'));
        if (parsed && typeof parsed === 'object') args = parsed as Record<string, unknown>;
      } catch {
        return { ok: false, error: 'request payload is not JSON' };
      }
    }
    switch (command) {
      case 'ping':
        return {
          ok: true,
          pong: true,
          site: this.site,
          uptimeS: Math.round((Date.now() - this.connectedAt) / 1000),
          battery: this.model.batteryLevel,
        };
      case 'status':
        return { ok: true, site: this.site, intervalMs: this.intervalMs, battery: this.model.batteryLevel, alertsRaised: this.alertSeq };
      case 'set-interval': {
        const ms = Number(args.intervalMs);
        if (!Number.isInteger(ms) || ms < 100 || ms > 3_600_000)
          return { ok: false, error: 'intervalMs must be an integer from 100 to 3600000' };
        this.intervalMs = ms;
        if (this.timer) this.schedule();
        return { ok: true, intervalMs: ms };
      }
      case 'alert': {
        const message = typeof args.message === 'string' ? args.message.slice(0, 200) : 'test alert';
        this.raiseAlert({ type: 'manual', message, v: 0 }).catch((e: Error) => this.options.onError?.(e));
        return { ok: true, raised: true };
      }
      default:
        return { ok: false, error: `unknown command "${command}" (known: ${DEVICE_COMMANDS.join(', ')})` };
    }
  }
}

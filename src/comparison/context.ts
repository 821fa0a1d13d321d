import { createBroker, type RunningBroker } from '../broker/index.js';
import { identifyBroker, redactUrl } from '../client/index.js';
import { findMosquitto, findRabbitMq, startMosquitto, startRabbitMq, type LocalServer } from './servers.js';

/** An MQTT broker the comparison measures: its URL and, for byte counting, its TCP host and port. */
export interface MqttTarget {
  label: string;
  url: string;
  /** TCP endpoint (undefined for a WebSocket URL, where bytes are not counted). */
  tcp?: { host: string; port: number };
}

/** The RabbitMQ the comparison measures, or why there is none. */
export type AmqpTarget = { label: string; url: string; port: number; startupMs?: number } | { absent: string };

/** A server this run wanted and did not have, with the reason (shown as "not measured"). */
export interface Absence {
  system: string;
  reason: string;
}

/** What the comparison's functions work against: the servers of this run and how much to measure. */
export interface ComparisonContext {
  mqtt: MqttTarget[];
  amqp: AmqpTarget;
  absent: Absence[];
  /** Messages per throughput burst. */
  messages: number;
  /** Sequential messages timed for latency. */
  latencySamples: number;
  /** Startup times of the servers this run started (ms), a fact about their deployment. */
  startup: Array<{ server: string; ms: number }>;
}

export interface ComparisonSetup {
  /** `--broker URL`: measure MQTT there instead of on an embedded broker. */
  broker?: string;
  /** Also measure a Mosquitto started on loopback (when installed). */
  mosquitto?: boolean;
  /** Start a private RabbitMQ (when installed) unless false; or use this AMQP URL. */
  rabbitmq?: boolean | string;
  messages?: number;
  latencySamples?: number;
  /** Progress lines (to stderr in the CLI). */
  log?: (line: string) => void;
}

/** Starts what the comparison needs; `close()` stops everything it started. */
export async function openComparison(setup: ComparisonSetup = {}): Promise<{ ctx: ComparisonContext; close: () => Promise<void> }> {
  const log = setup.log ?? (() => {});
  const stops: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };
  const ctx: ComparisonContext = {
    mqtt: [],
    amqp: { absent: 'not requested' },
    absent: [],
    messages: setup.messages ?? 5000,
    latencySamples: setup.latencySamples ?? Math.min(500, setup.messages ?? 500),
    startup: [],
  };
  try {
    if (setup.broker) {
      // Connecting first turns an unreachable broker into the same one line as everywhere else.
      const version = await identifyBroker(setup.broker);
      ctx.mqtt.push(targetFromUrl(`${version ?? 'broker'} at ${redactUrl(setup.broker)}`, setup.broker));
    } else {
      const started = performance.now();
      const embedded: RunningBroker = await createBroker({ host: '127.0.0.1', port: 0, wsPort: false, sysInterval: 0 });
      ctx.startup.push({ server: 'mqttlab embedded broker (in-process)', ms: Math.round(performance.now() - started) });
      stops.push(() => embedded.close());
      ctx.mqtt.push({ label: 'mqttlab embedded broker', url: embedded.url!, tcp: { host: '127.0.0.1', port: embedded.port! } });
    }
    if (setup.mosquitto) {
      if (!findMosquitto()) {
        ctx.absent.push({ system: 'MQTT (Mosquitto)', reason: 'mosquitto is not installed (apt-get install mosquitto)' });
      } else {
        log('starting mosquitto on loopback …');
        const m: LocalServer = await startMosquitto();
        stops.push(() => m.close());
        ctx.startup.push({ server: m.version, ms: m.startupMs });
        ctx.mqtt.push({ label: m.version, url: m.url, tcp: { host: '127.0.0.1', port: m.port } });
      }
    }
    if (typeof setup.rabbitmq === 'string') {
      const u = new URL(setup.rabbitmq);
      ctx.amqp = { label: `RabbitMQ at ${u.host}`, url: setup.rabbitmq, port: Number(u.port || 5672) };
    } else if (setup.rabbitmq !== false) {
      if (!findRabbitMq()) {
        ctx.amqp = { absent: 'rabbitmq-server is not installed (apt-get install rabbitmq-server)' };
        ctx.absent.push({ system: 'AMQP 0-9-1 (RabbitMQ)', reason: ctx.amqp.absent });
      } else {
        log('starting a private RabbitMQ node on loopback (takes a few seconds) …');
        try {
          const r = await startRabbitMq();
          stops.push(() => r.close());
          ctx.startup.push({ server: r.version, ms: r.startupMs });
          ctx.amqp = { label: r.version, url: r.url, port: r.port, startupMs: r.startupMs };
        } catch (error) {
          ctx.amqp = { absent: `RabbitMQ failed to start: ${(error as Error).message.split('\n')[0]}` };
          ctx.absent.push({ system: 'AMQP 0-9-1 (RabbitMQ)', reason: ctx.amqp.absent });
        }
      }
    } else {
      ctx.amqp = { absent: 'disabled with --no-rabbitmq' };
      ctx.absent.push({ system: 'AMQP 0-9-1 (RabbitMQ)', reason: ctx.amqp.absent });
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { ctx, close };
}

/** The measured target for an MQTT URL (bytes are counted only over plain TCP). */
export function targetFromUrl(label: string, url: string): MqttTarget {
  const u = new URL(url);
  const tcp =
    u.protocol === 'mqtt:' || u.protocol === 'tcp:' ? { host: u.hostname || '127.0.0.1', port: Number(u.port || 1883) } : undefined;
  return { label, url, tcp };
}

/** Whether RabbitMQ is there to measure. */
export function hasAmqp(target: AmqpTarget): target is { label: string; url: string; port: number; startupMs?: number } {
  return !('absent' in target);
}

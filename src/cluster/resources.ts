import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';

/** Names of everything a cluster keeps in NATS, derived from one prefix (docs/cluster.md, "What lives where"). */
export interface ClusterNames {
  readonly prefix: string;
  /** Subjects of QoS 0 messages (core NATS, not stored): `<prefix>.q0.<topic>`. */
  readonly qos0: string;
  /** Subjects of QoS 1/2 messages, stored in the messages stream: `<prefix>.msg.<topic>`. */
  readonly qos12: string;
  /** Subjects a node answers on: `<prefix>.node.<node>.<request>`. */
  readonly node: string;
  /** Cluster-wide notices (node presence): `<prefix>.sys.<what>`. */
  readonly sys: string;
  /** The JetStream stream of QoS 1/2 messages. */
  readonly stream: string;
  /** KV bucket: the retained message of each topic. */
  readonly retainedBucket: string;
  /** KV bucket: each client's session (owner node, state). */
  readonly sessionsBucket: string;
}

/** The names under `prefix` (a NATS token, default `mqttlab`). */
export function clusterNames(prefix: string): ClusterNames {
  const upper = prefix.toUpperCase().replace(/[^A-Z0-9_-]/g, '_');
  return {
    prefix,
    qos0: `${prefix}.q0`,
    qos12: `${prefix}.msg`,
    node: `${prefix}.node`,
    sys: `${prefix}.sys`,
    stream: `${upper}_MESSAGES`,
    retainedBucket: `${upper}_retained`,
    sessionsBucket: `${upper}_sessions`,
  };
}

/** How long QoS 1/2 messages stay in the stream: the window in which a session taken over from a dead node catches up. */
export const STREAM_MAX_AGE_MS = 24 * 3600 * 1000;
/** Upper bound on the stream's size; the oldest messages go first. */
export const STREAM_MAX_BYTES = 1024 * 1024 * 1024;

/** The stream and buckets, created on first use (every node asks; the same config is accepted again). */
export interface ClusterResources {
  readonly jsm: JetStreamManager;
  readonly retained: KV;
  readonly sessions: KV;
}

/** Creates (or opens) the messages stream and the two buckets with `replicas` copies each. */
export async function openResources(nc: NatsConnection, names: ClusterNames, replicas: number): Promise<ClusterResources> {
  const jsm = await jetstreamManager(nc, { timeout: 10_000, checkAPI: false });
  await jetStreamReady(jsm);
  try {
    await jsm.streams.info(names.stream);
  } catch {
    await jsm.streams
      .add({
        name: names.stream,
        subjects: [`${names.qos12}.>`],
        num_replicas: replicas,
        max_age: STREAM_MAX_AGE_MS * 1_000_000,
        max_bytes: STREAM_MAX_BYTES,
      })
      .catch(async (error: Error) => {
        // Another node created it in between.
        if (!(await jsm.streams.info(names.stream).catch(() => undefined))) throw error;
      });
  }
  const kvm = new Kvm(jsm.jetstream());
  const retained = await kvm.create(names.retainedBucket, { history: 1, replicas });
  const sessions = await kvm.create(names.sessionsBucket, { history: 1, replicas });
  return { jsm, retained, sessions };
}

/** How long a node waits for JetStream to answer (a NATS cluster just started elects its JetStream leader first). */
const JETSTREAM_READY_MS = 30_000;

/** Resolves once JetStream answers an account-info request; rethrows the last error after the bound. */
async function jetStreamReady(jsm: JetStreamManager): Promise<void> {
  const deadline = Date.now() + JETSTREAM_READY_MS;
  for (;;) {
    try {
      await jsm.getAccountInfo();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

import { createHash } from 'node:crypto';
import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { deliverShared, type Broker } from '../broker/index.js';
import { decodeEnvelope } from './envelope.js';
import { SubjectInterest } from './interest.js';
import type { ClusterNames } from './resources.js';
import { filterSubjects } from './subjects.js';

/** How long JetStream keeps a shared group's consumer after no node reads it any more. */
const GROUP_INACTIVE_MS = 24 * 3600 * 1000;
/** A message a node took but could not hand to a member goes back for another node after this. */
const RETRY_DELAY_MS = 200;
const NS_PER_MS = 1_000_000;

/** One shared subscription `$share/<group>/<filter>` as this node serves it. */
interface GroupState {
  readonly group: string;
  readonly filter: string;
  /** Client ids of this node's members. */
  readonly members: Set<string>;
  qos0?: SubjectInterest;
  consumers: ConsumerMessages[];
  /** Counts activations, so a pull loop of an earlier activation stops instead of running twice. */
  generation: number;
}

/**
 * Shared subscriptions across nodes [MQTT-4.8.2]: each message to exactly one member of a group,
 * wherever the members are connected. A node takes part in a group while one of its members there is
 * connected (offline members are skipped): QoS 0 messages through a NATS queue group (NATS gives each
 * to one node), QoS 1/2 through a durable JetStream consumer per group that the nodes pull from (each
 * message to one node, acknowledged once the member's session has it, redelivered if that node dies).
 * While no member is connected anywhere, QoS 1/2 messages wait in the consumer.
 */
export class SharedGroups {
  private readonly groups = new Map<string, GroupState>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly names: ClusterNames,
    private readonly broker: () => Broker,
    private readonly onError: (error: Error) => void,
    /** Makes the acknowledgements about to be written (the SUBACK) wait for `work`. */
    private readonly holdAcks: (work: Promise<unknown>) => void,
  ) {}

  /** A client of this node joined (or left) group `group` on `filter`. */
  membership(clientId: string, group: string, filter: string, joined: boolean): void {
    const key = `${group}\u0000${filter}`;
    let state = this.groups.get(key);
    if (!state) {
      if (!joined) return;
      state = { group, filter, members: new Set(), consumers: [], generation: 0 };
      this.groups.set(key, state);
    }
    if (joined) {
      state.members.add(clientId);
      this.refresh(state);
      return;
    }
    state.members.delete(clientId);
    if (state.members.size > 0) {
      this.refresh(state);
      return;
    }
    // A SUBSCRIBE repeating a subscription leaves and joins again in one step: the pulls are not stopped
    // for it. Stopping them loses nothing but delays much: JetStream's messages already on their way to a
    // pull that stopped wait for the ack wait (30 s) before they go out again.
    queueMicrotask(() => {
      if (state.members.size > 0 || this.groups.get(key) !== state) return;
      this.refresh(state);
      this.groups.delete(key);
    });
  }

  /** A client connected or disconnected: the groups it is a member of here may start or stop. */
  connectivity(clientId: string): void {
    for (const state of this.groups.values()) if (state.members.has(clientId)) this.refresh(state);
  }

  /** Stops taking part in every group. */
  async close(): Promise<void> {
    const closing: Array<Promise<unknown>> = [];
    for (const state of this.groups.values()) {
      state.qos0?.clear();
      // Not current any more: the pull loops end instead of pulling again (on a closed connection: for ever).
      state.qos0 = undefined;
      state.generation++;
      closing.push(...state.consumers.map((c) => c.close()));
      state.consumers = [];
    }
    this.groups.clear();
    await Promise.all(closing);
  }

  private refresh(state: GroupState): void {
    const sessions = this.broker().sessions;
    const active = [...state.members].some((id) => sessions.get(id)?.connected === true);
    if (active && !state.qos0) {
      const queue = `share-${digest(state.group, state.filter)}`;
      state.qos0 = new SubjectInterest(this.nc, this.names.qos0, (data) => this.deliverQos0(state, data), queue);
      state.qos0.add(state.filter);
      state.generation++;
      // The SUBACK waits until the group's consumers exist: a consumer created later would not have the
      // messages published in between (it starts at new messages), and the member was told it is subscribed.
      const started = this.startConsumers(state, state.generation);
      started.catch((error: Error) => this.onError(error));
      this.holdAcks(started);
    } else if (!active && state.qos0) {
      state.qos0.clear();
      state.qos0 = undefined;
      const consumers = state.consumers;
      state.consumers = [];
      for (const c of consumers) void c.close();
    }
  }

  private deliverQos0(state: GroupState, data: Uint8Array): void {
    const envelope = decodeEnvelope(data);
    // QoS 0 has no second chance: a message that raced a disconnect is dropped, as on one node.
    if (envelope) deliverShared(this.broker(), envelope.message, state.group, state.filter);
  }

  /** One durable consumer per subject of the filter (a topic matches one of them), pulled while active. */
  private async startConsumers(state: GroupState, generation: number): Promise<void> {
    const subjects = filterSubjects(this.names.qos12, state.filter);
    for (let i = 0; i < subjects.length; i++) {
      const name = `share-${digest(state.group, state.filter)}-${i}`;
      await this.jsm.consumers.add(this.names.stream, {
        durable_name: name,
        filter_subject: subjects[i],
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.New,
        ack_wait: 30_000 * NS_PER_MS,
        max_ack_pending: 1000,
        inactive_threshold: GROUP_INACTIVE_MS * NS_PER_MS,
      });
      if (state.generation !== generation || !state.qos0) return;
      void this.pull(state, name, generation);
    }
  }

  /** Pulls the group's consumer while this node takes part; a consumer lost with its NATS server is pulled again. */
  private async pull(state: GroupState, name: string, generation: number): Promise<void> {
    const current = () => state.qos0 !== undefined && state.generation === generation && !this.nc.isClosed();
    while (current()) {
      try {
        const consumer = await this.js.consumers.get(this.names.stream, name);
        const messages = await consumer.consume({ max_messages: 64, expires: 2000 });
        if (!current()) {
          await messages.close();
          return;
        }
        state.consumers.push(messages);
        for await (const m of messages) {
          const envelope = decodeEnvelope(m.data);
          const broker = this.broker();
          if (!envelope) m.term();
          else if (!deliverShared(broker, envelope.message, state.group, state.filter)) m.nak(RETRY_DELAY_MS);
          // Acknowledged to JetStream once the member's session state is stored (else another node gets it).
          else broker.store.afterStored((stored) => (stored ? m.ack() : m.nak(RETRY_DELAY_MS)));
        }
      } catch (error) {
        if (current()) this.onError(error as Error);
      }
      if (current()) await new Promise((r) => setTimeout(r, RETRY_DELAY_MS));
    }
  }
}

/** A short stable name for a group and filter, valid in consumer and queue names. */
function digest(group: string, filter: string): string {
  return createHash('sha256').update(`${group}\u0000${filter}`).digest('hex').slice(0, 20);
}

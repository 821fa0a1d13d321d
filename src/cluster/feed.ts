import { DeliverPolicy, type ConsumerMessages, type JetStreamClient } from '@nats-io/jetstream';
import { decodeEnvelope, type Envelope } from './envelope.js';

/**
 * This node's reading of the QoS 1/2 messages stream: an ordered consumer (JetStream redelivers from
 * where it stopped, in stream order, after any gap or reconnect) that hands every message to `route`.
 * `processed` is the stream sequence routed so far: session snapshots record it, so a node that takes
 * a session over knows from where to catch it up.
 */
export class StreamFeed {
  private messages: ConsumerMessages | undefined;
  private seq = 0;

  constructor(
    private readonly js: JetStreamClient,
    private readonly stream: string,
    private readonly filter: string,
    private readonly route: (envelope: Envelope, seq: number) => void,
  ) {}

  /** Stream sequence routed up to. */
  get processed(): number {
    return this.seq;
  }

  /** Starts after the stream's current last message (what came before is in the sessions already). */
  async start(): Promise<void> {
    const info = await (await this.js.jetstreamManager()).streams.info(this.stream);
    this.seq = info.state.last_seq;
    const consumer = await this.js.consumers.get(this.stream, {
      filter_subjects: this.filter,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.seq + 1,
    });
    const messages = await consumer.consume({ max_messages: 512 });
    this.messages = messages;
    void (async () => {
      for await (const m of messages) {
        const envelope = decodeEnvelope(m.data);
        if (envelope) this.route(envelope, m.seq);
        this.seq = m.seq;
      }
    })();
  }

  async stop(): Promise<void> {
    await this.messages?.close();
  }
}

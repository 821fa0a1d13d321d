import { DeliverPolicy, type ConsumerMessages, type JetStreamClient } from '@nats-io/jetstream';
import { decodeEnvelope, type Envelope } from './envelope.js';

/** Pause before reading again after the consumer was lost (its NATS server gone, a leader election). */
const RESUME_DELAY_MS = 250;

/**
 * This node's reading of the QoS 1/2 messages stream: an ordered consumer that hands every message to
 * `route` in stream order. When the consumer is lost (its NATS server killed, JetStream electing a new
 * leader) reading resumes after the last message routed, so nothing is skipped or routed twice.
 * `processed` is the stream sequence routed so far: session snapshots record it, so a node that takes a
 * session over knows from where to catch it up.
 */
export class StreamFeed {
  private messages: ConsumerMessages | undefined;
  private seq = 0;
  private stopped = false;
  private reading: Promise<void> | undefined;

  constructor(
    private readonly js: JetStreamClient,
    private readonly stream: string,
    private readonly filter: string,
    private readonly route: (envelope: Envelope, seq: number) => void,
    private readonly onError: (error: Error) => void,
  ) {}

  /** Stream sequence routed up to. */
  get processed(): number {
    return this.seq;
  }

  /** Starts after the stream's current last message (what came before is in the sessions already). */
  async start(): Promise<void> {
    const info = await (await this.js.jetstreamManager()).streams.info(this.stream);
    this.seq = info.state.last_seq;
    this.messages = await this.open();
    this.reading = this.readForever(this.messages);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.messages?.close();
    await this.reading;
  }

  private async open(): Promise<ConsumerMessages> {
    const consumer = await this.js.consumers.get(this.stream, {
      filter_subjects: this.filter,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.seq + 1,
    });
    // Short pulls with heartbeats: a consumer lost with a NATS server is noticed within seconds.
    return consumer.consume({ max_messages: 512, expires: 2000 });
  }

  private async readForever(first: ConsumerMessages): Promise<void> {
    let messages: ConsumerMessages | undefined = first;
    while (!this.stopped) {
      try {
        messages ??= this.messages = await this.open();
        for await (const m of messages) {
          if (m.seq <= this.seq) continue;
          const envelope = decodeEnvelope(m.data);
          if (envelope) this.route(envelope, m.seq);
          this.seq = m.seq;
        }
      } catch (error) {
        if (!this.stopped) this.onError(error as Error);
      }
      messages = undefined;
      if (!this.stopped) await new Promise((r) => setTimeout(r, RESUME_DELAY_MS));
    }
  }
}

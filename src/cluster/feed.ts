import { DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { decodeEnvelope, type Envelope } from './envelope.js';

/** Pause before reading again after the consumer was lost (its NATS server gone, a leader election). */
const RESUME_DELAY_MS = 250;
/** How often the reading is checked for progress. */
const STALL_CHECK_MS = 2000;
/** The longest the stream-info request of a check may take. */
const STALL_CHECK_TIMEOUT_MS = 2000;

/**
 * This node's reading of the QoS 1/2 messages stream: an ordered consumer that hands every message to
 * `route` in stream order. When the consumer is lost (its NATS server killed, JetStream electing a new
 * leader) reading resumes after the last message routed, so nothing is skipped or routed twice.
 * `processed` is the stream sequence routed so far: session snapshots record it, so a node that takes a
 * session over knows from where to catch it up.
 *
 * The client library does not always notice a consumer lost with its NATS server: reading can stall
 * with no error and no message (seen when one of three servers is killed). So a watchdog compares, each
 * STALL_CHECK_MS without progress, what was routed with the stream's last sequence, and when the stream
 * is ahead, or its consumer reports missed heartbeats, drops the consumer and reads again from there.
 */
export class StreamFeed {
  private messages: ConsumerMessages | undefined;
  private seq = 0;
  private stopped = false;
  private reading: Promise<void> | undefined;
  private jsm: JetStreamManager | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  /** The sequence routed up to at the last check, and whether a check is running. */
  private checkedSeq = -1;
  private checking = false;
  /** Times reading was started again because it had stalled (for tests and `$SYS`). */
  restarts = 0;
  /** Callers of `routedUpTo` waiting for the reading to reach their sequence. */
  private waiting: Array<{ seq: number; resolve: () => void }> = [];

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

  /**
   * Resolves true once every message of the stream up to `seq` has been routed here, false after `ms`.
   * A session coming from a node that had read further must not be installed before this node has: the
   * reading would route the messages in between into it a second time.
   */
  routedUpTo(seq: number, ms: number): Promise<boolean> {
    if (this.seq >= seq) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = this.waiting.filter((w) => w !== waiter);
        resolve(false);
      }, ms);
      const waiter = {
        seq,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      this.waiting.push(waiter);
    });
  }

  /** Starts after the stream's current last message (what came before is in the sessions already). */
  async start(): Promise<void> {
    this.jsm = await this.js.jetstreamManager();
    const info = await this.jsm.streams.info(this.stream);
    this.seq = info.state.last_seq;
    this.messages = await this.open();
    this.reading = this.readForever(this.messages);
    this.watchdog = setInterval(() => void this.checkProgress(), STALL_CHECK_MS);
    this.watchdog.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.watchdog);
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
    const messages = await consumer.consume({ max_messages: 512, expires: 2000 });
    void this.watchStatus(messages);
    return messages;
  }

  /** Missed heartbeats of the current consumer: read again at once rather than wait for the library. */
  private async watchStatus(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const status of messages.status()) {
        if (status.type === 'heartbeats_missed' && messages === this.messages) this.restart();
      }
    } catch {
      // The consumer is closed: its status ends with it.
    }
  }

  /** No progress since the last check while the stream has more for us: the reading is stuck, start it again. */
  private async checkProgress(): Promise<void> {
    if (this.stopped || this.checking) return;
    if (this.seq !== this.checkedSeq) {
      this.checkedSeq = this.seq;
      return;
    }
    this.checking = true;
    try {
      const info = await within(this.jsm!.streams.info(this.stream), STALL_CHECK_TIMEOUT_MS);
      if (info && info.state.last_seq > this.seq && this.seq === this.checkedSeq) this.restart();
    } catch {
      // JetStream does not answer either (NATS lost): the node's connection handling covers that.
    } finally {
      this.checking = false;
    }
  }

  /** Drops the current consumer; the reading loop opens a new one after the last message routed. */
  private restart(): void {
    const messages = this.messages;
    if (!messages || this.stopped) return;
    this.restarts++;
    this.messages = undefined;
    void messages.close().catch(() => undefined);
  }

  private wake(): void {
    const ready = this.waiting.filter((w) => w.seq <= this.seq);
    if (ready.length === 0) return;
    this.waiting = this.waiting.filter((w) => w.seq > this.seq);
    for (const w of ready) w.resolve();
  }

  private async readForever(first: ConsumerMessages): Promise<void> {
    let messages: ConsumerMessages | undefined = first;
    while (!this.stopped) {
      try {
        messages ??= this.messages = await this.open();
        if (this.stopped) {
          await messages.close();
          break;
        }
        for await (const m of messages) {
          if (m.seq <= this.seq) continue;
          const envelope = decodeEnvelope(m.data);
          if (envelope) this.route(envelope, m.seq);
          this.seq = m.seq;
          if (this.waiting.length > 0) this.wake();
        }
      } catch (error) {
        if (!this.stopped) this.onError(error as Error);
      }
      messages = this.messages = undefined;
      if (!this.stopped) await new Promise((r) => setTimeout(r, RESUME_DELAY_MS));
    }
  }
}

/** `work`'s result, or undefined when it takes longer than `ms` (or fails). */
async function within<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([work.catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

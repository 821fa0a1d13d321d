import type { QoS } from 'mqtt-packet';

/** What one QoS level promises, in the chaos checker's terms (MQTT 5.0 §4.3). */
export const QOS_CONTRACT: Record<QoS, string> = {
  0: 'at most once: nothing duplicated',
  1: 'at least once: nothing acknowledged lost (duplicates allowed)',
  2: 'exactly once: nothing acknowledged lost, nothing duplicated',
};

/** The counts of one QoS level after a chaos run, and the verdict against its contract. */
export interface QosOutcome {
  qos: QoS;
  /** Messages handed to the publisher. */
  sent: number;
  /** PUBACK (QoS 1) or PUBCOMP (QoS 2) received by the publisher; undefined at QoS 0. */
  acknowledged?: number;
  /** Distinct messages the subscriber received. */
  received: number;
  /** Of those, the ones that arrived while the links were still faulty (the rest came after the repair). */
  receivedUnderFaults: number;
  /** QoS 1/2: acknowledged but not received, even after the links were repaired. QoS 0: sent but never received. */
  lost: number;
  /** Deliveries beyond the first of a message. */
  duplicated: number;
  /** First deliveries that came after a later message's. */
  reordered: number;
  /** Sent but not acknowledged when the run ended (the contract does not cover them). */
  unacknowledged: number;
  /** PUBLISH packets with DUP=1 on the subscriber's link. */
  dupFlags: number;
  contract: string;
  /** pass / fail against the contract; incomplete when the time ran out before every message was acknowledged. */
  verdict: 'pass' | 'fail' | 'incomplete';
}

/** Counts one QoS level's messages by sequence number on both sides. */
export class QosTally {
  sent = 0;
  private readonly acknowledged = new Set<number>();
  private readonly deliveries = new Map<number, number>();
  private highest = -1;
  duplicated = 0;
  reordered = 0;
  dupFlags = 0;
  private receivedAtRepair: number | undefined;

  constructor(readonly qos: QoS) {}

  /** The publisher got the acknowledgement of message `seq`. */
  acked(seq: number): void {
    this.acknowledged.add(seq);
  }

  /** The links are repaired now: later deliveries are counted as after the repair. */
  markRepair(): void {
    this.receivedAtRepair = this.deliveries.size;
  }

  /** The subscriber got message `seq`. */
  delivered(seq: number): void {
    const before = this.deliveries.get(seq) ?? 0;
    this.deliveries.set(seq, before + 1);
    if (before > 0) {
      this.duplicated++;
      return;
    }
    if (seq < this.highest) this.reordered++;
    this.highest = Math.max(this.highest, seq);
  }

  get acknowledgedCount(): number {
    return this.acknowledged.size;
  }

  get receivedCount(): number {
    return this.deliveries.size;
  }

  /** Whether every acknowledged message (every sent one at QoS 0) has been received. */
  caughtUp(): boolean {
    if (this.qos === 0) return this.deliveries.size >= this.sent;
    for (const seq of this.acknowledged) if (!this.deliveries.has(seq)) return false;
    return true;
  }

  /** The counts and the verdict. */
  outcome(): QosOutcome {
    const lost =
      this.qos === 0 ? this.sent - this.deliveries.size : [...this.acknowledged].filter((seq) => !this.deliveries.has(seq)).length;
    const unacknowledged = this.qos === 0 ? 0 : this.sent - this.acknowledged.size;
    const broken = this.qos === 0 ? this.duplicated > 0 : lost > 0 || (this.qos === 2 && this.duplicated > 0);
    return {
      qos: this.qos,
      sent: this.sent,
      ...(this.qos > 0 && { acknowledged: this.acknowledged.size }),
      received: this.deliveries.size,
      receivedUnderFaults: this.receivedAtRepair ?? this.deliveries.size,
      lost,
      duplicated: this.duplicated,
      reordered: this.reordered,
      unacknowledged,
      dupFlags: this.dupFlags,
      contract: QOS_CONTRACT[this.qos],
      verdict: broken ? 'fail' : unacknowledged > 0 ? 'incomplete' : 'pass',
    };
  }
}

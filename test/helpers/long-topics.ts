import type { RawClient } from './raw-client.js';

/** How `publishToLongTopics` sends: how many PUBLISHes, how long each topic, how often to wait for a PUBACK. */
export interface LongTopicsLoad {
  count: number;
  topicBytes: number;
  /** Every `ackEvery` messages, wait for that message's PUBACK (at most `ackTimeoutMs`), then call `sampled`. */
  ackEvery: number;
  ackTimeoutMs: number;
  /** 'continue': a PUBACK that does not come is not waited for again (an attack goes on); else it rejects. */
  missingAck?: 'reject' | 'continue';
  sampled?: () => void;
}

/**
 * QoS 1 PUBLISHes of one byte, each to a distinct long topic (`<i>/xxxx…`): valid input that no match cache
 * may keep.
 */
export async function publishToLongTopics(client: RawClient, load: LongTopicsLoad): Promise<void> {
  const filler = 'x'.repeat(load.topicBytes);
  for (let i = 1; i <= load.count; i++) {
    const messageId = (i % 65535) + 1;
    client.send({ cmd: 'publish', topic: `${i}/${filler}`, payload: Buffer.from('v'), qos: 1, messageId, retain: false, dup: false });
    if (i % load.ackEvery === 0) {
      const acked = client.waitFor((p) => p.cmd === 'puback' && p.messageId === messageId, load.ackTimeoutMs);
      await (load.missingAck === 'continue' ? acked.catch(() => undefined) : acked);
      load.sampled?.();
    }
  }
}

import { after, before } from 'node:test';
import { ExerciseContext } from '../../src/exercises/index.js';
import { startBroker, type BrokerKind, type TestBroker } from './brokers.js';

/** A broker of one kind and an ExerciseContext on it, for the tests of one suite. */
export interface ExerciseBroker {
  readonly broker: TestBroker;
  readonly ctx: ExerciseContext;
}

/** Starts the broker and the context before the suite's tests and closes both after (also when a test failed). */
export function exerciseBroker(kind: BrokerKind): ExerciseBroker {
  const env = {} as { broker: TestBroker; ctx: ExerciseContext };
  before(async () => {
    env.broker = await startBroker(kind);
    env.ctx = new ExerciseContext(env.broker.url);
  });
  after(async () => {
    await env.ctx?.closeAll();
    await env.broker?.close();
  });
  return env;
}

/** The seed's exercises as runnable programs. */
export { EXERCISE_SUMMARIES, EXERCISES, exerciseNames, runExercises, selectExercises, type ExerciseBroker } from './runner.js';
export { ExerciseContext } from './context.js';
export { checkTitle, formatReport, outcome, type Check, type ExerciseReport, type Outcome, type Section } from './report.js';
export * as basicPubsub from './basic-pubsub.js';
export * as qosLevels from './qos-levels.js';
export * as retainedLastwill from './retained-lastwill/index.js';
export * as mqtt5Features from './mqtt5-features/index.js';
export * as protocolComparison from './protocol-comparison.js';

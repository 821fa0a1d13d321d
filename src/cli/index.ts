#!/usr/bin/env node
import { Command } from 'commander';
import { registerBenchCommand } from './bench.js';
import { registerBrokerCommand } from './broker.js';
import { registerCompareCommand } from './compare.js';
import { registerExerciseCommand } from './exercise.js';

const program = new Command('mqttlab')
  .description('MQTT 5 end to end: an embeddable broker, the seed exercises, a telemetry system and honest numbers')
  .version('0.1.0');

registerBrokerCommand(program);
registerExerciseCommand(program);
registerCompareCommand(program);
registerBenchCommand(program);

program.parseAsync(process.argv).catch((error: Error) => {
  console.error(`mqttlab: ${error.message}`);
  process.exit(1);
});

#!/usr/bin/env node
import { Command } from 'commander';
import { registerBenchCommand } from './bench.js';
import { registerBrokerCommand } from './broker.js';
import { registerCapacityCommand } from './capacity.js';
import { registerChaosCommand } from './chaos.js';
import { registerCompareCommand } from './compare.js';
import { registerDashboardCommand } from './dashboard.js';
import { registerExerciseCommand } from './exercise.js';
import { registerFleetCommand } from './fleet.js';
import { registerIngestCommand } from './ingest.js';
import { registerProxyCommand } from './proxy.js';
import { registerStartCommand } from './start.js';

const program = new Command('mqttlab')
  .description('MQTT 5 end to end: an embeddable broker, the seed exercises, a telemetry system and honest numbers')
  .version('0.1.0');

registerStartCommand(program);
registerBrokerCommand(program);
registerExerciseCommand(program);
registerFleetCommand(program);
registerIngestCommand(program);
registerCapacityCommand(program);
registerCompareCommand(program);
registerDashboardCommand(program);
registerBenchCommand(program);
registerProxyCommand(program);
registerChaosCommand(program);

program.parseAsync(process.argv).catch((error: Error) => {
  console.error(`mqttlab: ${error.message}`);
  process.exit(1);
});

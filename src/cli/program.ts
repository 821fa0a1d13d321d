import { Command } from 'commander';
import { registerBenchCommand } from './bench.js';
import { registerBrokerCommand } from './broker.js';
import { registerCapacityCommand } from './capacity.js';
import { registerCompareCommand } from './compare.js';
import { registerDashboardCommand } from './dashboard.js';
import { registerExerciseCommand } from './exercise.js';
import { registerFleetCommand } from './fleet.js';
import { registerIngestCommand } from './ingest.js';
import { registerPubCommand } from './pub.js';
import { registerReqCommand } from './req.js';
import { registerStartCommand } from './start.js';
import { registerSubCommand } from './sub.js';

/**
 * `mqttlab` and its commands. A short flag means one thing in every command (-b broker, -d devices,
 * -p a port to listen on, -q QoS, -t topic, -v verbose …; test/cli/flags.test.ts checks it), so
 * `--version` has no short form: -V is the MQTT protocol version of the client commands.
 */
export function buildProgram(): Command {
  const program = new Command('mqttlab')
    .description('MQTT 5 end to end: an embeddable broker, the seed exercises, a telemetry system and honest numbers')
    .version('0.1.0', '--version');
  registerStartCommand(program);
  registerBrokerCommand(program);
  registerExerciseCommand(program);
  registerFleetCommand(program);
  registerIngestCommand(program);
  registerCapacityCommand(program);
  registerCompareCommand(program);
  registerDashboardCommand(program);
  registerBenchCommand(program);
  registerPubCommand(program);
  registerSubCommand(program);
  registerReqCommand(program);
  return program;
}

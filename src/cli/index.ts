#!/usr/bin/env node
import { buildProgram } from './program.js';
import { installShutdownHandlers, stopAfterError } from './shutdown.js';

installShutdownHandlers();
try {
  await (await buildProgram(process.argv[2])).parseAsync(process.argv);
} catch (error) {
  await stopAfterError();
  console.error(`mqttlab: ${(error as Error).message}`);
  // A command may have set a more telling status first (27: a -W timeout, as Mosquitto's clients).
  process.exit(typeof process.exitCode === 'number' && process.exitCode !== 0 ? process.exitCode : 1);
}

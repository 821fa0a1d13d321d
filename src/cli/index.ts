#!/usr/bin/env node
import { buildProgram } from './program.js';
import { installShutdownHandlers, stopAfterError } from './shutdown.js';

installShutdownHandlers();
buildProgram()
  .parseAsync(process.argv)
  .catch(async (error: Error) => {
    await stopAfterError();
    console.error(`mqttlab: ${error.message}`);
    process.exit(1);
  });

import type { Command } from 'commander';
import { isValidTopicName } from '../protocol/index.js';
import { disconnect, formatMessage, payloadsFrom, sendRequest, type OutputFormat } from '../client/index.js';
import { addConnectionOptions, connectForCommand, parseFormat, type ConnectionCliOptions } from './client-options.js';
import { addPublishOptions, payloadSourceFrom, publishProperties, type PublishCliOptions } from './publish-options.js';
import { TIMEOUT_EXIT } from './sub.js';
import { integerFrom } from './util.js';

interface ReqOptions extends ConnectionCliOptions, PublishCliOptions {
  topic: string;
  responseTopic?: string;
  timeout: number;
  verbose?: boolean;
  format: OutputFormat;
  json?: boolean;
}

/** `mqttlab req`: MQTT 5 request/reply, like mosquitto_rr: sends a request and prints the reply. */
export function registerReqCommand(program: Command): void {
  const command = program
    .command('req')
    .description('send a request (Response Topic + Correlation Data, MQTT 5) and print the reply, like mosquitto_rr')
    .requiredOption('-t, --topic <topic>', 'topic the request is published to')
    .option(
      '-e, --response-topic <topic>',
      'where the reply should go (subscribed before the request is sent; default: mqttlab/replies/<client id>)',
    )
    .option('-W, --timeout <seconds>', `how long to wait for the reply (exit status ${TIMEOUT_EXIT} when it runs out)`, integerFrom(1), 10)
    .option('-v, --verbose', 'print the reply topic before the payload (text, hex)')
    .option('--format <format>', 'text, json (the reply with its properties) or hex', parseFormat, 'text')
    .option('--json', 'same as --format json');
  addPublishOptions(command, false);
  addConnectionOptions(command)
    .addHelpText(
      'after',
      `
The reply is the first message on the response topic that carries the request's Correlation Data
(default: 16 random hex digits, or --correlation-data); the responder must copy it [MQTT-3.3.2-16].

Examples:
  mqttlab req -t commands/dev-001/ping -m '{}'                # a device of \`mqttlab fleet\` answers
  mqttlab req -t service/echo -e replies/me -m hello --json  # with \`mqttlab sub -t service/echo --reply '{payload}'\``,
    )
    .action(async (opts: ReqOptions) => {
      if (opts.protocolVersion !== 5) throw new Error('request/reply needs MQTT 5 (Response Topic and Correlation Data): leave out -V 311');
      if (!isValidTopicName(opts.topic)) throw new Error(`"${opts.topic}" is not a topic to publish to (no + or #, not empty)`);
      const source = payloadSourceFrom(opts);
      const properties = publishProperties(opts, 5);
      const { client } = await connectForCommand(opts, 'req');
      try {
        const responseTopic = opts.responseTopic ?? `mqttlab/replies/${client.options.clientId}`;
        if (!isValidTopicName(responseTopic)) throw new Error(`"${responseTopic}" is not a response topic (no + or #, not empty)`);
        let payload: Buffer = Buffer.alloc(0);
        for await (const p of payloadsFrom(source)) payload = p;
        const reply = await sendRequest(client, {
          topic: opts.topic,
          payload,
          responseTopic,
          correlationData: properties.correlationData,
          qos: opts.qos,
          timeoutMs: opts.timeout * 1000,
          publish: { properties },
        }).catch((error: Error) => {
          if (error.message.startsWith('no reply')) process.exitCode = TIMEOUT_EXIT;
          throw error;
        });
        process.stdout.write(
          formatMessage(reply.topic, reply.payload, reply.packet, opts.json ? 'json' : opts.format, opts.verbose === true),
        );
      } finally {
        await disconnect(client);
      }
    });
}

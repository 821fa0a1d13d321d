import type { Command } from 'commander';
import { isValidTopicName, reasonName } from '../protocol/index.js';
import { disconnect, payloadsFrom } from '../client/index.js';
import { addConnectionOptions, connectForCommand, type ConnectionCliOptions } from './client-options.js';
import { addPublishOptions, payloadSourceFrom, publishProperties, type PublishCliOptions } from './publish-options.js';
import { integerFrom } from './util.js';

interface PubOptions extends ConnectionCliOptions, PublishCliOptions {
  topic: string;
  retain?: boolean;
  responseTopic?: string;
  topicAlias?: number;
}

/** `mqttlab pub`: publishes one message (or one per line of stdin), like mosquitto_pub. */
export function registerPubCommand(program: Command): void {
  const command = program
    .command('pub')
    .description('publish a message (MQTT 5 or 3.1.1), like mosquitto_pub')
    .requiredOption('-t, --topic <topic>', 'topic to publish to')
    .option('-r, --retain', 'retained: the broker keeps it for later subscribers (with --null-message: clears it)')
    .option('--response-topic <topic>', 'Response Topic property (see `mqttlab req` for request/reply)')
    .option(
      '--topic-alias <n>',
      'Topic Alias: the first message names the topic and the alias, later ones (-l) only the alias',
      integerFrom(1, 65535),
    );
  addPublishOptions(command, true);
  addConnectionOptions(command)
    .addHelpText(
      'after',
      `
Examples:
  mqttlab pub -t sensors/room1/temperature -m 21.5 -q 1
  mqttlab pub -t devices/dev-1/status -m online -r                  # retained
  mqttlab pub -t devices/dev-1/status --null-message -r             # clears it
  mqttlab pub -t jobs/new -m '{"n":1}' --user-property origin=cli --content-type application/json --message-expiry 60
  seq 3 | mqttlab pub -t counter -l --topic-alias 1 --trace          # one PUBLISH per line, alias after the first
  mqttlab pub -b mqtts://127.0.0.1:8883 --cafile ca.pem -u alice -P s3cret -t alice/hi -m hi
Exit status 1 (one line on stderr) when it cannot connect or the broker refuses the message.`,
    )
    .action(async (opts: PubOptions) => {
      if (!isValidTopicName(opts.topic)) throw new Error(`"${opts.topic}" is not a topic to publish to (no + or #, not empty)`);
      const source = payloadSourceFrom(opts);
      const properties = publishProperties(opts, opts.protocolVersion);
      if (opts.responseTopic !== undefined) properties.responseTopic = opts.responseTopic;
      if (opts.topicAlias !== undefined && opts.protocolVersion === 4) throw new Error('--topic-alias is MQTT 5 only (leave out -V 311)');
      const { client, connack } = await connectForCommand(opts, 'pub');
      try {
        const aliasMaximum = connack.properties?.topicAliasMaximum ?? 0;
        if (opts.topicAlias !== undefined && opts.topicAlias > aliasMaximum) {
          throw new Error(
            `the broker accepts topic aliases up to ${aliasMaximum} (Topic Alias Maximum in its CONNACK), not ${opts.topicAlias}`,
          );
        }
        let first = true;
        for await (const payload of payloadsFrom(source)) {
          const aliased = opts.topicAlias !== undefined;
          // MQTT 5.0 §3.3.2.3.4: once a PUBLISH set the alias, a zero-length topic name with it means its topic.
          const topic = aliased && !first ? '' : opts.topic;
          const withAlias = aliased ? { ...properties, topicAlias: opts.topicAlias } : properties;
          await client
            .publishAsync(topic, payload, { qos: opts.qos, retain: opts.retain === true, properties: withAlias })
            .catch((error: Error & { code?: number }) => {
              throw new Error(
                typeof error.code === 'number'
                  ? `the broker refused the message on "${opts.topic}": ${reasonName(error.code)}`
                  : error.message,
              );
            });
          first = false;
        }
      } finally {
        await disconnect(client);
      }
    });
}

import type { Command } from 'commander';
import type { IClientPublishOptions } from 'mqtt';
import type { UserProperties } from 'mqtt-packet';
import type { PayloadSource } from '../client/index.js';
import { collectUserProperty, parseQos } from './client-options.js';
import { integerFrom } from './util.js';

/** The payload and PUBLISH property options `pub` and `req` share. */
export interface PublishCliOptions {
  qos: 0 | 1 | 2;
  message?: string;
  file?: string;
  stdinFile?: boolean;
  stdinLine?: boolean;
  nullMessage?: boolean;
  contentType?: string;
  messageExpiry?: number;
  userProperty?: UserProperties;
  payloadFormatIndicator?: boolean;
  correlationData?: string;
}

/** Adds the payload options (-m, -f, -s, and with `lines` -l) and the PUBLISH properties. */
export function addPublishOptions(command: Command, lines: boolean): Command {
  command
    .option('-q, --qos <qos>', 'QoS 0, 1 or 2', parseQos, 0)
    .option('-m, --message <text>', 'the payload')
    .option('-f, --file <path>', 'the payload: the contents of a file')
    .option('-s, --stdin-file', 'the payload: all of stdin');
  if (lines) command.option('-l, --stdin-line', 'one message per line of stdin, until it ends');
  return command
    .option('--null-message', "an empty payload (with -r: clears the topic's retained message)")
    .option('--content-type <type>', 'Content Type property (e.g. application/json)')
    .option(
      '--message-expiry <seconds>',
      'Message Expiry Interval: the broker drops it if not delivered by then',
      integerFrom(1, 4_294_967_295),
    )
    .option('--user-property <name=value>', 'a user property (repeatable, a name may repeat)', collectUserProperty)
    .option('--payload-format-indicator', 'Payload Format Indicator 1: the payload is UTF-8 text')
    .option('--correlation-data <text>', 'Correlation Data property');
}

/** Which payload option was given; exactly one must be. */
export function payloadSourceFrom(opts: PublishCliOptions): PayloadSource {
  const given: PayloadSource[] = [];
  if (opts.message !== undefined) given.push({ kind: 'message', text: opts.message });
  if (opts.file !== undefined) given.push({ kind: 'file', path: opts.file });
  if (opts.stdinFile) given.push({ kind: 'stdin' });
  if (opts.stdinLine) given.push({ kind: 'lines' });
  if (opts.nullMessage) given.push({ kind: 'empty' });
  if (given.length !== 1)
    throw new Error(
      `give ${given.length === 0 ? 'the' : 'one'} payload: ` +
        '-m <text>, -f <file>, -s (stdin), -l (a message per line of stdin) or --null-message',
    );
  return given[0]!;
}

/** The MQTT 5 PUBLISH properties the options set; a one-line error when one is used with MQTT 3.1.1. */
export function publishProperties(opts: PublishCliOptions, protocolVersion: 4 | 5): NonNullable<IClientPublishOptions['properties']> {
  const properties: NonNullable<IClientPublishOptions['properties']> = {};
  if (opts.contentType !== undefined) properties.contentType = opts.contentType;
  if (opts.messageExpiry !== undefined) properties.messageExpiryInterval = opts.messageExpiry;
  if (opts.userProperty !== undefined) properties.userProperties = opts.userProperty;
  if (opts.payloadFormatIndicator) properties.payloadFormatIndicator = true;
  if (opts.correlationData !== undefined) properties.correlationData = Buffer.from(opts.correlationData);
  if (protocolVersion === 4 && Object.keys(properties).length > 0)
    throw new Error('PUBLISH properties (--content-type, --message-expiry, --user-property, …) are MQTT 5 only (leave out -V 311)');
  return properties;
}

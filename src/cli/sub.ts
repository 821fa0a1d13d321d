import { InvalidArgumentError, type Command } from 'commander';
import type { MqttClient } from 'mqtt';
import type { IPublishPacket } from 'mqtt-packet';
import { reasonName } from '../protocol/index.js';
import { answerRequest, describeRefusal, disconnect, formatMessage, subscribeFilters, type OutputFormat } from '../client/index.js';
import { addConnectionOptions, connectForCommand, parseFormat, parseQos, type ConnectionCliOptions } from './client-options.js';
import { onShutdown } from './shutdown.js';
import { integerFrom } from './util.js';

interface SubOptions extends ConnectionCliOptions {
  topic: string[];
  qos: 0 | 1 | 2;
  local: boolean;
  retainAsPublished?: boolean;
  retainHandling: 0 | 1 | 2;
  subscriptionIdentifier?: number;
  count?: number;
  timeout?: number;
  verbose?: boolean;
  format: OutputFormat;
  json?: boolean;
  reply?: string;
}

/** Exit status when -W runs out, as Mosquitto's clients (27, ETIMEDOUT). */
export const TIMEOUT_EXIT = 27;

/** `mqttlab sub`: prints the messages of topic filters, like mosquitto_sub. */
export function registerSubCommand(program: Command): void {
  const command = program
    .command('sub')
    .description('subscribe and print messages (MQTT 5 or 3.1.1), like mosquitto_sub')
    .option(
      '-t, --topic <filter>',
      'topic filter, + and # allowed, $share/<group>/<filter> for a shared subscription (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('-q, --qos <qos>', 'maximum QoS to receive at', parseQos, 0)
    .option('--no-local', 'No Local: do not receive what this connection publishes (MQTT 5)')
    .option('--retain-as-published', 'Retain As Published: keep the RETAIN flag messages were published with (MQTT 5)')
    .option(
      '--retain-handling <0|1|2>',
      'retained messages on subscribe: 0 always, 1 only for a new subscription, 2 never (MQTT 5)',
      parseRetainHandling,
      0,
    )
    .option(
      '--subscription-identifier <n>',
      'Subscription Identifier: the broker puts it on every message this subscription delivers (MQTT 5)',
      integerFrom(1, 268_435_455),
    )
    .option('-C, --count <n>', 'exit after this many messages', integerFrom(1))
    .option(
      '-W, --timeout <seconds>',
      `give up after this many seconds (exit status ${TIMEOUT_EXIT}, as Mosquitto's clients)`,
      integerFrom(1),
    )
    .option('-v, --verbose', 'print the topic before each payload (text, hex)')
    .option(
      '--format <format>',
      'text (the payload as it is), json (one object per message with its properties) or hex',
      parseFormat,
      'text',
    )
    .option('--json', 'same as --format json')
    .option(
      '--reply <payload>',
      'answer each message that has a Response Topic with this payload and its Correlation Data ' +
        '({payload} and {topic} are replaced): a responder for `mqttlab req` and mosquitto_rr',
    );
  addConnectionOptions(command)
    .addHelpText(
      'after',
      `
Examples:
  mqttlab sub -t 'sensors/#' -v
  mqttlab sub -t 'sensors/#' -C 10 --json | jq .payload
  mqttlab sub -t 'devices/+/status' --retain-handling 0 -W 2          # the retained presence, then exit
  mqttlab sub -t 'jobs/#' -q 1 -i worker-1 --no-clean -x 3600         # a persistent session
  mqttlab sub -t 'service/echo' --reply 'echo: {payload}'             # answers mqttlab req / mosquitto_rr
Ctrl-C ends it with DISCONNECT. A refused subscription is named with its reason code (exit 1 when all are).`,
    )
    .action(async (opts: SubOptions) => {
      if (opts.topic.length === 0) throw new Error('give at least one topic filter: -t <filter>');
      if (
        opts.protocolVersion === 4 &&
        (!opts.local || opts.retainAsPublished || opts.retainHandling !== 0 || opts.subscriptionIdentifier !== undefined)
      ) {
        throw new Error(
          '--no-local, --retain-as-published, --retain-handling and --subscription-identifier are MQTT 5 only (leave out -V 311)',
        );
      }
      // Listening before CONNECT: a resumed session's queued messages follow the CONNACK at once.
      const receiver = new Receiver(opts);
      const { client } = await connectForCommand(opts, 'sub', (c) => receiver.listen(c));
      process.exitCode = await receiver.run(client);
      await disconnect(client);
    });
}

/** Prints what arrives and decides when `sub` is done: -C, -W, Ctrl-C, or the broker ending the connection. */
class Receiver {
  private received = 0;
  private running = false;
  private done = false;
  private resolveFinished: (status: number) => void = () => {};
  private readonly finished = new Promise<number>((resolve) => (this.resolveFinished = resolve));
  private readonly format: OutputFormat;

  constructor(private readonly opts: SubOptions) {
    this.format = opts.json ? 'json' : opts.format;
  }

  /** Attaches to a client before it connects. */
  listen(client: MqttClient): void {
    let serverDisconnect: number | undefined;
    client.on('disconnect', (packet) => (serverDisconnect = packet.reasonCode ?? 0));
    client.on('close', () => {
      // Before run(), a failed connect is reported by connectMqtt.
      if (!this.running || this.done) return;
      const why = serverDisconnect === undefined ? 'the connection closed' : `the broker sent DISCONNECT ${reasonName(serverDisconnect)}`;
      console.error(`mqttlab: ${why}`);
      this.finish(1);
    });
    client.on('message', (topic: string, payload: Buffer, packet: IPublishPacket) => this.print(client, topic, payload, packet));
  }

  /** Subscribes and waits until done; returns the exit status. */
  async run(client: MqttClient): Promise<number> {
    const opts = this.opts;
    this.running = true;
    const outcome = await subscribeFilters(client, {
      filters: opts.topic,
      qos: opts.qos,
      noLocal: !opts.local,
      retainAsPublished: opts.retainAsPublished,
      retainHandling: opts.retainHandling,
      subscriptionIdentifier: opts.subscriptionIdentifier,
    });
    const refusals = outcome.refused.map((r) => describeRefusal(r, opts.protocolVersion));
    if (outcome.granted.length === 0) throw new Error(refusals.join('; '));
    for (const line of refusals) console.error(`mqttlab: ${line}`);
    const timer =
      opts.timeout === undefined
        ? undefined
        : setTimeout(() => {
            console.error(`mqttlab: timed out after ${opts.timeout} s (${this.received} message(s))`);
            this.finish(TIMEOUT_EXIT);
          }, opts.timeout * 1000);
    onShutdown(async () => {
      this.finish(0);
      await disconnect(client);
    });
    if (this.countReached()) this.finish(0);
    const status = await this.finished;
    clearTimeout(timer);
    return status;
  }

  private print(client: MqttClient, topic: string, payload: Buffer, packet: IPublishPacket): void {
    const opts = this.opts;
    if (this.done || this.countReached()) return;
    this.received++;
    process.stdout.write(formatMessage(topic, payload, packet, this.format, opts.verbose === true));
    const answered =
      opts.reply === undefined
        ? Promise.resolve(false)
        : answerRequest(client, packet, Buffer.from(replyText(opts.reply, topic, payload)), opts.qos);
    answered.then(
      () => this.running && this.countReached() && this.finish(0),
      (error: Error) => console.error(`mqttlab: could not answer on ${packet.properties?.responseTopic}: ${error.message}`),
    );
  }

  private countReached(): boolean {
    return this.opts.count !== undefined && this.received >= this.opts.count;
  }

  private finish(status: number): void {
    this.done = true;
    this.resolveFinished(status);
  }
}

/** The --reply payload for one request: {payload} and {topic} replaced. */
function replyText(template: string, topic: string, payload: Buffer): string {
  return template.replaceAll('{payload}', payload.toString('utf8')).replaceAll('{topic}', topic);
}

function parseRetainHandling(value: string): 0 | 1 | 2 {
  if (value !== '0' && value !== '1' && value !== '2') throw new InvalidArgumentError(`"${value}" is not 0, 1 or 2`);
  return Number(value) as 0 | 1 | 2;
}

/**
 * Published figures the comparison cites for what it cannot measure here (no Kafka cluster, no Google
 * account). Each is shown with its source and marked "cited — not measured here".
 */
export interface Citation {
  id: string;
  title: string;
  url: string;
  /** What the source says, in our words. */
  says: string;
}

export const CITATIONS = {
  seed: {
    id: 'seed',
    title: "practice-057 seed, 'Structured Protocol Comparison' table",
    url: 'shared/seed/practice-057-mqtt.md',
    says:
      'The qualitative dimensions (ordering, persistence, consumer groups, topic model, deployment) ' +
      'and the typical ranges quoted there.',
  },
  kafkaLinkedIn: {
    id: 'kafka-linkedin-2014',
    title: 'J. Kreps, "Benchmarking Apache Kafka: 2 Million Writes Per Second (On Three Cheap Machines)", LinkedIn Engineering, 2014',
    url: 'https://engineering.linkedin.com/kafka/benchmarking-apache-kafka-2-million-writes-second-three-cheap-machines',
    says:
      '100-byte records: 821,557 records/s from one producer thread without replication, ' +
      '2,024,032 records/s from three producers with 3x async replication; end-to-end latency 2 ms median, 3 ms p99, 14 ms p99.9.',
  },
  kafkaConfluent: {
    id: 'kafka-confluent',
    title: 'Confluent, "Kafka performance" benchmark page',
    url: 'https://developer.confluent.io/learn/kafka-performance/',
    says: 'Peak throughput 605 MB/s; p99 latency 5 ms at a 200 MB/s load (cloud instances, open benchmark code).',
  },
  kafkaProtocol: {
    id: 'kafka-protocol',
    title: 'Apache Kafka protocol guide and RecordBatch format',
    url: 'https://kafka.apache.org/protocol and https://kafka.apache.org/documentation/#recordbatch',
    says:
      'Request/response framing, primitive types (varints, compact strings, tagged fields), ' +
      'Produce and Fetch schemas, RecordBatch v2 with CRC-32C.',
  },
  kafkaConsumerConfig: {
    id: 'kafka-consumer-config',
    title: 'Apache Kafka consumer configuration (enable.auto.commit, auto.commit.interval.ms = 5000)',
    url: 'https://kafka.apache.org/documentation/#consumerconfigs',
    says: 'Consumers acknowledge by committing offsets, by default automatically every 5 s, not per message.',
  },
  pubsubRest: {
    id: 'pubsub-rest',
    title: 'Google Cloud Pub/Sub REST reference, projects.topics.publish',
    url: 'https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.topics/publish',
    says: 'POST https://pubsub.googleapis.com/v1/{topic}:publish with {"messages":[{"data": base64}]}, returns {"messageIds":[…]}.',
  },
  pubsubProto: {
    id: 'pubsub-proto',
    title: 'googleapis google/pubsub/v1/pubsub.proto (Publisher.Publish) and gRPC over HTTP/2 (PROTOCOL-HTTP2.md)',
    url: 'https://github.com/googleapis/googleapis/blob/master/google/pubsub/v1/pubsub.proto',
    says:
      'PublishRequest{topic=1, messages=2}, PubsubMessage{data=1}, PublishResponse{message_ids=1}; ' +
      'gRPC messages are 5-byte length-prefixed in HTTP/2 DATA frames.',
  },
  pubsubPricing: {
    id: 'pubsub-pricing',
    title: 'Google Cloud Pub/Sub pricing and quotas',
    url: 'https://cloud.google.com/pubsub/pricing and https://cloud.google.com/pubsub/quotas',
    says:
      'Throughput is billed and quota-counted per request with a minimum of 1 kB per publish, push or pull request; ' +
      'publisher and subscriber throughput are regional quotas.',
  },
  googleTokens: {
    id: 'google-oauth-token-size',
    title: 'Google OAuth 2.0 documentation, token size',
    url: 'https://developers.google.com/identity/protocols/oauth2#size',
    says: 'Access tokens are of variable size, up to 2048 bytes; Google may change the size.',
  },
} as const satisfies Record<string, Citation>;

export type CitationId = keyof typeof CITATIONS;

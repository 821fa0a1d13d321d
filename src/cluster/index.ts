/** A broker cluster on NATS JetStream: nodes of the embedded broker sharing routing, retained messages and sessions. */
import { createBroker, type CreateBrokerOptions, type RunningBroker } from '../broker/index.js';
import { ClusterNode, type ClusterOptions } from './node.js';

export { ClusterNode, type ClusterOptions } from './node.js';
export { clusterNames, type ClusterNames } from './resources.js';
export { decodeLevel, encodeLevel, filterSubjects, topicSubject, subjectTopic, topicTokens, tokensTopic } from './subjects.js';

/** A running broker that is one node of a cluster. */
export interface ClusterBroker extends RunningBroker {
  readonly node: ClusterNode;
}

/** A broker's options (its state lives in the cluster, so no persistence) and the cluster to join. */
export type ClusterBrokerOptions = Omit<CreateBrokerOptions, 'cluster' | 'persistence'> & { cluster: ClusterOptions };

/**
 * Starts a broker as a node of the cluster on the NATS servers in `cluster.servers`. Its state lives in
 * JetStream.
 */
export async function createClusterBroker(options: ClusterBrokerOptions): Promise<ClusterBroker> {
  const { cluster, ...brokerOptions } = options;
  const node = await ClusterNode.connect(cluster);
  try {
    const running = await createBroker({ ...brokerOptions, cluster: node, persistence: node.store });
    return {
      ...running,
      node,
      close: async () => {
        await running.close();
        await node.close();
      },
    };
  } catch (error) {
    await node.close();
    throw error;
  }
}
export {
  startLocalCluster,
  startLocalNodes,
  type LocalCluster,
  type LocalClusterOptions,
  type LocalNodes,
  type LocalNodesOptions,
} from './local.js';

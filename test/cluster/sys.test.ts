import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { clusterUnavailable, startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { collect, connectClient, end, waitUntil, type Received } from '../helpers/clients.js';

const latest = (got: Received[], topic: string) => got.filter((m) => m.topic === topic).at(-1)?.payload;

describe('$SYS per node and for the cluster', { skip: clusterUnavailable ?? false }, () => {
  let cluster: TestCluster;
  before(async () => (cluster = await startTestCluster({ node: { sysInterval: 1 } })));
  after(() => cluster?.close());

  test('$SYS/cluster/... counts every node; $SYS/broker/... counts the node the client is on', async () => {
    const clients = await Promise.all([0, 1, 2, 2].map((n) => connectClient(cluster.nodes[n]!.url!)));
    const watcher = clients[0]!;
    const got = collect(watcher);
    await watcher.subscribeAsync(['$SYS/cluster/#', '$SYS/broker/clients/connected']);
    await waitUntil(
      () => latest(got, '$SYS/cluster/nodes/count') === '3' && Number(latest(got, '$SYS/cluster/clients/connected')) === 4,
      6000,
      'three nodes and four clients',
    );
    assert.equal(latest(got, '$SYS/broker/clients/connected'), '1', 'this node has one of the four');
    const nodes = JSON.parse(latest(got, '$SYS/cluster/nodes')!) as Array<{ node: string; clientsConnected: number }>;
    assert.deepEqual(
      nodes.map((n) => [n.node, n.clientsConnected]),
      [
        ['node1', 1],
        ['node2', 1],
        ['node3', 2],
      ],
    );
    // Per-node topics stay on their node: a client on node 3 sees node 3's count.
    const other = collect(clients[2]!);
    await clients[2]!.subscribeAsync('$SYS/broker/clients/connected');
    await waitUntil(() => latest(other, '$SYS/broker/clients/connected') === '2', 4000, 'node 3 counting its two clients');
    await Promise.all(clients.map((c) => end(c)));
  });
});

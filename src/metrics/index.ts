/** Prometheus metrics (prom-client) for the broker and ingestion, and the HTTP endpoint that serves them. */
export { registerBrokerMetrics, timedPersistence } from './broker.js';
export { IngestMetrics, type IngestSnapshot } from './ingest.js';
export { metricsHandler, serveMetrics, type MetricsServer } from './http.js';
export { registerProcessMetrics } from './process.js';
export { Registry } from 'prom-client';

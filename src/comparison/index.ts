/**
 * Exercise 5 of the seed: a measured protocol comparison of MQTT, Kafka, RabbitMQ (AMQP 0-9-1) and Cloud
 * Pub/Sub. The seed's functions in camelCase, each returning structured results:
 * - analyzeOverhead(ctx): bytes per message and per connection setup (MQTT/AMQP counted on sockets, Kafka and
 *   Pub/Sub encoded from their specs);
 * - analyzeDeliveryGuarantees(overhead): each ack model with the packets/bytes it costs;
 * - analyzeScalabilityPatterns(ctx): shared subscriptions and competing consumers measured, the rest cited;
 * - analyzeUseCaseFit(overhead): scenarios, and the seed's 100K-device fleet priced in bytes;
 * - generateComparisonReport(ctx): all of it, plus live latency/throughput, the seed's dimension table
 *   regenerated with provenance marks, and the key question answered; renderText/renderMarkdown/renderHtml
 *   format it.
 */
export {
  analyzeDeliveryGuarantees,
  analyzeScalabilityPatterns,
  analyzeUseCaseFit,
  type DeliveryAnalysis,
  type ScalabilityAnalysis,
  type UseCaseAnalysis,
} from './analysis.js';
export {
  analyzeOverhead,
  type AmqpCount,
  type OverheadAnalysis,
  type OverheadRow,
  type OverheadRowId,
  type SetupRowId,
} from './overhead.js';
export { analyzeLatencyAndThroughput, generateComparisonReport, keyQuestion, type ComparisonReport, type LiveAnalysis } from './report.js';
export { dimensionTable, type Cell, type DimensionRow } from './dimensions.js';
export { openComparison, targetFromUrl, type ComparisonContext, type ComparisonSetup } from './context.js';
export { renderMarkdown, renderText, reportBlocks, LEGEND } from './render.js';
export { renderHtml, svgBars } from './render-html.js';
export { CITATIONS } from './citations.js';
export { PROVENANCE_MARK, SAMPLE, samplePayload, SYSTEMS, type Provenance, type System } from './model.js';

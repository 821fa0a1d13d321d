/** The IoT telemetry system: device fleet simulator, presence, shared-subscription ingestion, store and API. */
export {
  fleetLinkTotals,
  startFleet,
  type ChaosOptions,
  type Fleet,
  type FleetCounters,
  type FleetDeviceLink,
  type FleetEvent,
  type FleetLinkTotals,
  type FleetOptions,
} from './fleet.js';
export type { LinkCounters } from './fleet-links.js';
export { Backoff, reconnectWithBackoff, type BackoffOptions } from './backoff.js';
export { DEVICE_COMMANDS, LINKED_SESSION_EXPIRY_S, SimulatedDevice, type DeviceOptions } from './device.js';
export { startIngest, type Ingest, type IngestOptions, type IngestStats, type NodeView } from './ingest.js';
export type { WorkerCounts } from './ingest-worker.js';
export { PresenceRegistry, type DevicePresence, type StatusDetails } from './presence.js';
export type { DeviceLinkReport, LinkReport } from './link-report.js';
export { LagWindow, RateWindow } from './rates.js';
export { SensorModel, THRESHOLDS, type Reading, type SensorAlert } from './sensors.js';
export {
  isPostgresUrl,
  type DeviceDelivery,
  openStore,
  type LatestReadings,
  type SeriesPoint,
  type StoredAlert,
  type StoredReading,
  type StoreObserver,
  type StoreOptions,
  type TelemetryStore,
} from './store.js';
export * from './topics.js';
export {
  capacityVerdict,
  describeStep,
  measureCapacity,
  type CapacityBroker,
  type CapacityOptions,
  type CapacityStep,
} from './capacity.js';

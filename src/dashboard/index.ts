/** The telemetry dashboard: static web app (src/dashboard/public) and the handler/server that serve it. */
export {
  createDashboardHandler,
  findPublicDir,
  startDashboardServer,
  vendorFiles,
  type DashboardHandler,
  type DashboardHandlerOptions,
  type DashboardServer,
  type DashboardServerOptions,
} from './server.js';

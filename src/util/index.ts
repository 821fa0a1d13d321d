/** Small helpers shared by the tools and the tests: loopback ports and finding local servers. */
export { freePort, waitForPort } from './ports.js';
export { findMosquitto } from './mosquitto.js';

export type { Persistence, SessionSnapshot } from './types.js';
export { MemoryPersistence } from './memory.js';
export { SqlitePersistence } from './sqlite.js';

import type { ConnectionChange } from '../client/index.js';

/**
 * A log of broker connection losses and reconnects, for when stdout is not a terminal (no status line
 * shows them). Changes are grouped over `windowMs`, since a fleet loses all its devices at once.
 */
export function connectionLog(print: (line: string) => void, windowMs = 1000): (client: string, change: ConnectionChange) => void {
  const pending = { lost: [] as string[], reconnected: [] as string[], reason: '' };
  let timer: NodeJS.Timeout | undefined;
  const names = (list: string[]) => (list.length <= 5 ? list.join(', ') : `${list.slice(0, 5).join(', ')} and ${list.length - 5} more`);
  const flush = () => {
    timer = undefined;
    const at = new Date().toISOString();
    if (pending.lost.length > 0) print(`${at} lost the broker connection (${pending.reason}): ${names(pending.lost)}; reconnecting`);
    if (pending.reconnected.length > 0) print(`${at} reconnected to the broker: ${names(pending.reconnected)}`);
    pending.lost = [];
    pending.reconnected = [];
  };
  return (client, change) => {
    if (change.state === 'lost') {
      if (pending.lost.length === 0) pending.reason = change.reason;
      pending.lost.push(client);
    } else {
      pending.reconnected.push(client);
    }
    timer ??= setTimeout(flush, windowMs);
    timer.unref();
  };
}

// The links panel: per device its emulated link, reconnects, QoS 0 readings lost (sequence gaps) and
// QoS 1 alerts duplicated (stored once), with the totals — from `links` of /api/stats.
import { num } from './common.js';

/** Rows shown at most: the devices that lost or doubled most come first. */
const MAX_ROWS = 100;

/** Renders `links` of /api/stats (null while the store is unavailable). */
export function renderLinks(links) {
  const table = document.getElementById('links-table');
  if (!table || !links) return;
  const t = links.totals;
  document.getElementById('links-totals').textContent =
    `${num(t.reconnects)} reconnects · ${num(t.readingsLost)} readings lost · ${num(t.alertsDuplicated)} alerts duplicated`;
  const rows = [...links.devices]
    .sort((a, b) => b.readingsLost + b.alertsDuplicated - (a.readingsLost + a.alertsDuplicated) || a.device.localeCompare(b.device))
    .slice(0, MAX_ROWS);
  const body = table.querySelector('tbody');
  body.innerHTML = '';
  for (const d of rows) {
    const tr = document.createElement('tr');
    tr.dataset.device = d.device;
    for (const value of [
      d.device,
      d.link ?? '–',
      d.reconnects === null ? '–' : num(d.reconnects),
      num(d.readingsLost),
      num(d.alertsDuplicated),
    ]) {
      const td = document.createElement('td');
      td.textContent = value;
      tr.append(td);
    }
    body.append(tr);
  }
  const foot = table.querySelector('tfoot');
  foot.innerHTML = '';
  const total = document.createElement('tr');
  for (const value of [`all ${num(links.devices.length)}`, '', num(t.reconnects), num(t.readingsLost), num(t.alertsDuplicated)]) {
    const th = document.createElement('th');
    th.textContent = value;
    total.append(th);
  }
  foot.append(total);
}

// The alerts list: the latest from the API, then live from `alerts/<site>/<device>`.
import { api, clock } from './common.js';

/** Adds an alert (once, by its id) at the top, or at the bottom for history; keeps the 12 newest. */
export function addAlert(alert, site, id, prepend = true) {
  const list = document.getElementById('alerts');
  if (alert.id && list.querySelector(`[data-alert="${CSS.escape(String(alert.id))}"]`)) return;
  const li = document.createElement('li');
  if (alert.id) li.dataset.alert = String(alert.id);
  li.innerHTML = '<span class="when"></span> <b class="who"></b> <span class="what"></span>';
  li.querySelector('.when').textContent = alert.ts ? clock(alert.ts) : '';
  li.querySelector('.who').textContent = id ?? alert.device ?? alert.deviceId ?? '';
  li.querySelector('.what').textContent =
    `${alert.type ?? 'alert'}: ${alert.message ?? ''}${(site ?? alert.site) ? ` (${site ?? alert.site})` : ''}`;
  if (prepend) list.prepend(li);
  else list.append(li);
  while (list.children.length > 12) list.lastChild.remove();
}

/** The latest alerts from the API. */
export async function loadAlerts() {
  try {
    const alerts = await api('/api/alerts?limit=12');
    for (const a of alerts) addAlert(a, undefined, undefined, false);
  } catch (error) {
    console.warn(error);
  }
}

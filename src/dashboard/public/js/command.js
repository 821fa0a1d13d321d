// The request/reply command: PUBLISH at QoS 2 with Response Topic + Correlation Data, the reply matched by it.
import { text } from './common.js';
import { myId, replyTopic, session } from './session.js';

const COMMAND_TIMEOUT_MS = 10_000;
const pending = new Map();
let commandSeq = 0;

/** Sends `command` to device `id` and shows the exchange in the reply box. */
export function sendCommand(command, id) {
  const client = session.client;
  const box = document.getElementById('cmd-reply');
  if (!client?.connected || !id) {
    box.dataset.state = 'error';
    box.textContent = 'Not connected to the broker over WebSocket.';
    return;
  }
  const correlation = `${myId}-${++commandSeq}`;
  const topic = `commands/${id}/${command}`;
  const sentAt = performance.now();
  box.dataset.state = 'pending';
  box.dataset.correlation = correlation;
  box.innerHTML = '';
  line(box, '→', `PUBLISH ${topic} · QoS 2 · Response Topic ${replyTopic} · Correlation Data "${correlation}"`);
  const timer = setTimeout(() => {
    pending.delete(correlation);
    if (box.dataset.correlation !== correlation) return;
    box.dataset.state = 'timeout';
    line(box, '✗', `no reply within ${COMMAND_TIMEOUT_MS / 1000} s (is ${id} offline?)`);
  }, COMMAND_TIMEOUT_MS);
  pending.set(correlation, { id, command, sentAt, timer });
  client.publish(
    topic,
    JSON.stringify({ command, requestedAt: Date.now(), from: myId }),
    { qos: 2, properties: { responseTopic: replyTopic, correlationData: correlation, contentType: 'application/json' } },
    (error) => {
      if (error) line(box, '✗', `publish failed: ${error.message}`);
      else if (box.dataset.correlation === correlation && box.dataset.state === 'pending') {
        line(box, '✓', `PUBCOMP received after ${(performance.now() - sentAt).toFixed(1)} ms: the broker has the request (QoS 2 done)`);
      }
    },
  );
}

/** A message on our reply topic: matched to its request by Correlation Data. */
export function onReply(payload, packet) {
  const correlation = text(packet.properties?.correlationData);
  const request = pending.get(correlation);
  const box = document.getElementById('cmd-reply');
  if (!request) {
    line(box, '?', `reply with unknown Correlation Data "${correlation}": ${text(payload)}`);
    return;
  }
  pending.delete(correlation);
  clearTimeout(request.timer);
  if (box.dataset.correlation !== correlation) return;
  const ms = performance.now() - request.sentAt;
  let body = text(payload);
  let ok = false;
  try {
    const parsed = JSON.parse(body);
    ok = parsed.ok === true;
    body = JSON.stringify(parsed);
  } catch {
    /* show as text */
  }
  box.dataset.state = ok ? 'ok' : 'error';
  const matched = `Correlation Data "${correlation}" matches · ${ms.toFixed(1)} ms round trip`;
  line(box, '←', `reply from ${request.id} on ${packet.topic} · QoS ${packet.qos} · ${matched}`);
  const pre = document.createElement('pre');
  pre.className = 'reply-body';
  pre.textContent = body;
  box.append(pre);
}

function line(box, mark, message) {
  const div = document.createElement('div');
  div.innerHTML = `<span class="mark"></span> <span class="msg"></span>`;
  div.querySelector('.mark').textContent = mark;
  div.querySelector('.msg').textContent = message;
  box.append(div);
}

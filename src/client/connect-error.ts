import { isFailure, ReasonCode, reasonName } from '../protocol/index.js';
import { redactUrl } from './redact.js';

/** TLS verification failures (Node's codes) that mean "the broker's certificate is not trusted". */
const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
]);

/**
 * Why a connection to a broker failed, as one line that says what to do: the same words from every
 * command (exercise, fleet, compare, bench, pub/sub …), with credentials in the URL redacted.
 */
export function describeConnectError(error: unknown, url: string): string {
  return `cannot connect to ${redactUrl(url)}: ${reason(error as NodeJS.ErrnoException & { code?: string | number }, url)}`;
}

function reason(error: NodeJS.ErrnoException & { code?: string | number }, url: string): string {
  const code = error?.code;
  if (typeof code === 'number') {
    // MQTT.js: a CONNACK that refused the connection (MQTT 5 reason code, or a 3.1.1 return code 1–5).
    if (isFailure(code)) return `refused by the broker: ${reasonName(code)}${hint(code)}`;
    return `refused by the broker: ${error.message.replace(/^Connection refused: /, '')}`;
  }
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (is a broker running there? `mqttlab broker` starts one, the seed uses `docker compose up -d`)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host ${hostOf(url)} not found`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${hostOf(url)} is not reachable (${code})`;
    case 'ECONNRESET':
    case 'EPIPE':
      return 'the connection was reset before CONNACK (is it an MQTT port? for TLS use mqtts://)';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `the broker's certificate does not name ${hostOf(url)} (connect by the name in its certificate, or --insecure)`;
    case 'CERT_HAS_EXPIRED':
      return "the broker's certificate has expired";
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return 'the TLS handshake failed (is it a TLS port? plain MQTT uses mqtt://)';
  }
  if (typeof code === 'string' && UNTRUSTED.has(code))
    return "the broker's certificate is not trusted (pass --cafile <ca.pem>, or --insecure to skip the check)";
  if (/connack timeout|connect timeout|timed out/i.test(error?.message ?? '')) return 'no CONNACK in time (is it an MQTT port?)';
  return (error?.message ?? String(error)).split('\n')[0]!;
}

/** What to do about a CONNACK refusal, where there is something to do. */
function hint(code: number): string {
  switch (code) {
    case ReasonCode.BadUserNameOrPassword:
      return ' (check the user name and password)';
    case ReasonCode.NotAuthorized:
      return ' (check the user name and password; a broker with allow_anonymous false wants them)';
    case ReasonCode.UnsupportedProtocolVersion:
      return ' (try MQTT 3.1.1)';
    default:
      return '';
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return url;
  }
}

/**
 * Credentials never leave the agent: not in /v1/config, not in a log line, not in an error a
 * client or the terminal sees. Two shapes carry them in our settings and in the messages of the
 * libraries we use: the user-info part of a URL (`redis://:password@host:6379`, and any other
 * scheme) and fields whose name says they hold one (password, secret, token, ...).
 */

export const REDACTED = '[redacted]';

/** `scheme://user:password@` and `scheme://token@`: everything between `//` and `@` of the authority. */
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^/?#\s@]*@/gi;
const SECRET_KEY = /pass(word)?|secret|token|credential|authorization|api[-_]?key|session/i;

/** The text with every URL's user information replaced. */
export function redactText(text: string): string {
  return text.replace(URL_USERINFO, `$1${REDACTED}@`);
}

/**
 * A copy of `value` without credentials: URL user information in every string, and the whole
 * value of every field whose name says it is a secret. Errors become their redacted message.
 */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object' || depth > 20) return value;
  if (value instanceof Error) return redactText(value.stack ?? value.message);
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) && v !== undefined && v !== null ? REDACTED : redactSecrets(v, depth + 1);
  }
  return out;
}

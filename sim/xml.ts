/**
 * XML as EC2's Query API writes it and as the SDK's Ec2Query deserializer reads it: lowerCamelCase
 * element names, lists as `<fooSet><item>...</item></fooSet>`, booleans as `true`/`false`.
 * Builders return strings; empty or undefined members are left out, as EC2 does.
 */
const EC2_NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';

export function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export type Scalar = string | number | boolean | undefined;

/** `<name>value</name>`, or nothing when the value is undefined. */
export function leaf(name: string, value: Scalar): string {
  if (value === undefined) return '';
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** `<name>children</name>` for already-built children. */
export function node(name: string, ...children: string[]): string {
  return `<${name}>${children.join('')}</${name}>`;
}

/** `<name><item>..</item>...</name>`; each item's children come from `render`. */
export function itemSet<T>(name: string, items: readonly T[], render: (item: T) => string): string {
  return `<${name}>${items.map((item) => `<item>${render(item)}</item>`).join('')}</${name}>`;
}

export function tagSet(tags: Readonly<Record<string, string>>): string {
  return itemSet('tagSet', Object.entries(tags), ([key, value]) => leaf('key', key) + leaf('value', value));
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

export function responseXml(action: string, requestId: string, body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_NAMESPACE}"><requestId>${requestId}</requestId>${body}</${action}Response>`;
}

export function errorXml(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
}

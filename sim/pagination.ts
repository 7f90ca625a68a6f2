import { Ec2WireError } from './errors.js';

export interface Page<T> {
  items: T[];
  nextToken: string | undefined;
}

/**
 * Pages over items sorted by a stable key. The token names the last key returned (not an offset),
 * so ENIs created or deleted between two pages neither repeat nor shift the rest.
 */
export function paginate<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  max: number | undefined,
  token: string | undefined,
): Page<T> {
  let start = 0;
  if (token !== undefined) {
    const after = decodeToken(token);
    start = items.findIndex((item) => keyOf(item) > after);
    if (start < 0) start = items.length;
  }
  if (max === undefined) return { items: items.slice(start), nextToken: undefined };
  const page = items.slice(start, start + max);
  const last = page[page.length - 1];
  const more = start + max < items.length;
  return { items: page, nextToken: more && last !== undefined ? encodeToken(keyOf(last)) : undefined };
}

function encodeToken(key: string): string {
  return Buffer.from(`sim:${key}`, 'utf8').toString('base64url');
}

function decodeToken(token: string): string {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  if (!text.startsWith('sim:'))
    throw new Ec2WireError('InvalidPaginationToken', `Invalid pagination token '${token}'`);
  return text.slice('sim:'.length);
}

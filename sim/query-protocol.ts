import { Ec2WireError, invalidParameterValue, missingParameter } from './errors.js';

export interface Filter {
  name: string;
  values: string[];
}

/**
 * One EC2 Query API request: form-encoded `Action=...&Version=2016-11-15` with EC2's flattened lists
 * (`InstanceId.1`, `Filter.1.Name`, `Filter.1.Value.1`, `TagSpecification.1.Tag.1.Key`, ...).
 */
export class QueryParams {
  private readonly values = new Map<string, string>();

  constructor(body: string) {
    for (const [key, value] of new URLSearchParams(body)) this.values.set(key, value);
  }

  get action(): string | undefined {
    return this.values.get('Action');
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  keysWithPrefix(prefix: string): number {
    let n = 0;
    for (const key of this.values.keys()) if (key.startsWith(prefix)) n++;
    return n;
  }

  require(name: string): string {
    const value = this.values.get(name);
    if (value === undefined || value === '') throw missingParameter(name);
    return value;
  }

  int(name: string): number | undefined {
    const raw = this.values.get(name);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n))
      throw invalidParameterValue(`Value (${raw}) for parameter ${name} is invalid. Expected an integer.`);
    return n;
  }

  bool(name: string): boolean | undefined {
    const raw = this.values.get(name);
    if (raw === undefined) return undefined;
    if (raw !== 'true' && raw !== 'false')
      throw invalidParameterValue(`Value (${raw}) for parameter ${name} is invalid. Expected a boolean.`);
    return raw === 'true';
  }

  /** `Name.1`, `Name.2`, ... in index order (EC2 numbers from 1; gaps end nothing, order counts). */
  list(name: string): string[] {
    return this.indices(name).map((i) => this.values.get(`${name}.${i}`) ?? '');
  }

  /** Indices N for which some `prefix.N` or `prefix.N.*` key exists, ascending. */
  indices(prefix: string): number[] {
    const found = new Set<number>();
    const head = `${prefix}.`;
    for (const key of this.values.keys()) {
      if (!key.startsWith(head)) continue;
      const rest = key.slice(head.length);
      const n = Number(rest.split('.')[0]);
      if (Number.isInteger(n) && n > 0) found.add(n);
    }
    return [...found].sort((a, b) => a - b);
  }

  filters(): Filter[] {
    return this.indices('Filter').map((i) => {
      const name = this.values.get(`Filter.${i}.Name`);
      if (name === undefined) throw missingParameter(`Filter.${i}.Name`);
      return { name, values: this.list(`Filter.${i}.Value`) };
    });
  }

  /** `prefix.N.Key` / `prefix.N.Value` pairs, e.g. `Tag.1.Key` or `TagSpecification.1.Tag.1.Key`. */
  tags(prefix: string): { key: string; value: string | undefined }[] {
    return this.indices(prefix).map((i) => {
      const key = this.values.get(`${prefix}.${i}.Key`);
      if (key === undefined) throw missingParameter(`${prefix}.${i}.Key`);
      return { key, value: this.values.get(`${prefix}.${i}.Value`) };
    });
  }
}

/** MaxResults as EC2 validates it for paginated Describe calls. */
export function maxResults(params: QueryParams, min: number, max: number): number | undefined {
  const n = params.int('MaxResults');
  if (n === undefined) return undefined;
  if (n < min || n > max) {
    throw new Ec2WireError(
      'InvalidParameterValue',
      `Value ( ${n} ) for parameter maxResults is invalid. Expecting a value between ${min} and ${max}.`,
    );
  }
  return n;
}

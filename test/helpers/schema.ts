/*
 * The JSON Schema of --output json, compiled with ajv (draft-07), plus a check that the schema
 * describes every property a real report has (so the schema cannot fall behind the model).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const SCHEMA = JSON.parse(readFileSync(new URL('../../src/report/report.schema.json', import.meta.url), 'utf8')) as any;

const ajv = new Ajv({ allErrors: true, strict: true });
// ISO 8601 as Date#toISOString writes it; ajv's own formats are a separate package.
ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
const validate = ajv.compile(SCHEMA);

/** The schema errors as "path: message" lines; empty when the report is valid. */
export function validateReport(report: unknown): string[] {
  return validate(report) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath}: ${e.message}`);
}

/** Every object key in `value` has a `properties` entry (or an additionalProperties map) in the schema. */
export function assertDescribed(value: unknown, schema: any = SCHEMA, path = ''): void { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (schema?.$ref) schema = SCHEMA.definitions[String(schema.$ref).replace('#/definitions/', '')];
  if (Array.isArray(value)) {
    value.forEach((v, i) => assertDescribed(v, schema.items, `${path}[${i}]`));
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const variants = schema.oneOf ? schema.oneOf.filter((s: { type?: string }) => s.type === 'object') : [schema];
  const s = variants[0];
  for (const [k, v] of Object.entries(value)) {
    const sub = s?.properties?.[k] ?? (typeof s?.additionalProperties === 'object' ? s.additionalProperties : undefined);
    assert.ok(sub, `${path}.${k} is not described in report.schema.json`);
    assertDescribed(v, sub, `${path}.${k}`);
  }
}

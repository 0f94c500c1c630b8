// Contract checks of recorded sandbox exchanges against Twilio's own OpenAPI 3.0 specs
// (`@twilio-alpha/mcp` ships them under twilio-oai/spec/json): the contract of Twilio's API as the
// sandbox plays it. Our own routes' contracts are lib/shared/route-contracts.ts.
//
// The integration tests record every HTTP exchange the real `twilio` client has with the
// sandbox; `loadContract()` finds the spec operation of each one and reports where the
// request or the response departs from it.
//
// Spec conventions this module relies on (checked against twilio_api_v2010.json and
// twilio_sync_v1.json):
//   - paths → method → `parameters` (in: path | query | header), optional
//     `requestBody.content['application/x-www-form-urlencoded'].schema` with PascalCase
//     `properties` / `required`, and `responses` → status → `content['application/json'].schema`.
//   - Schemas are OpenAPI 3.0: most response fields carry `nullable: true`, which JSON Schema
//     does not know; we turn it into a type union (`['string', 'null']`, plus `null` in `enum`).
//   - `$ref`s point only into `#/components/schemas/…` (e.g. enum schemas such as
//     `call_enum_status`). Each compiled validator gets the referenced components copied into
//     its own `definitions`, so nothing but what an operation needs is ever compiled.
//   - Formats: only `date`, `date-time`, `int32`/`int64`/`float`/`double` (ajv-formats) and
//     Twilio's `date-time-rfc-2822` (the 2010-04-01 API's `Wed, 18 Dec 2019 20:02:01 +0000`)
//     are enforced. `uri` and every custom format (`uri-map`, `phone-number`, `http-method`,
//     `endpoint`, `twiml`, `iso-country-code`, `currency`, `x-…`, …) is documentation only.
//   - Error responses are not documented in the specs: for statuses >= 400 the body must be
//     Twilio's error shape `{code, message, more_info, status}` with `status` equal to the
//     HTTP status.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

// The sandbox records exchanges in exactly the shape this checker reads.
import type { Exchange } from '../../sandbox/app';
export type { Exchange };
export type Product = Exchange['product'];

export interface ContractProblem {
  exchange: string;
  problem: string;
}

export interface Contract {
  /** Which spec operation (operationId) the exchange matches, or undefined when no path template matches. */
  operationFor(e: Pick<Exchange, 'product' | 'method' | 'path'>): string | undefined;
  /** Problems with the REQUEST: unknown operation, path parameters, query and form parameters. */
  checkRequest(e: Exchange): ContractProblem[];
  /** Problems with the RESPONSE: undocumented status, body not matching the documented schema or Twilio's error shape. */
  checkResponse(e: Exchange): ContractProblem[];
}

/**
 * Sync addresses Services, Maps, Lists and Documents by `sid` *or* `unique_name` (and the
 * Service by the alias `default`). These path parameters are therefore exempt from the
 * SID-shaped constraints (`pattern`, `minLength`, `maxLength`) a spec may put on them:
 *   - `ServiceSid`, `MapSid`, `ListSid`, `DocumentSid` anywhere in the Sync spec;
 *   - `Sid` in `/v1/Services/{Sid}` and `/v1/Services/{ServiceSid}/{Maps|Lists|Documents}/{Sid}`.
 * (The current twilio_sync_v1.json declares these as plain strings, so the exemption is a
 * guard against spec updates; Streams are deliberately not exempt.) The values must still be
 * non-empty.
 */
export const SYNC_UNIQUE_NAME_PARAMS: readonly string[] = ['ServiceSid', 'MapSid', 'ListSid', 'DocumentSid'];
const SYNC_UNIQUE_NAME_SID_TEMPLATE = /^\/v1\/Services(?:\/\{ServiceSid\}\/(?:Maps|Lists|Documents))?\/\{Sid\}$/;

export function acceptsUniqueName(product: Product, template: string, param: string): boolean {
  if (product !== 'sync') return false;
  return SYNC_UNIQUE_NAME_PARAMS.includes(param) || (param === 'Sid' && SYNC_UNIQUE_NAME_SID_TEMPLATE.test(template));
}

const SPEC_FILES: Record<Product, string> = {
  api: 'twilio_api_v2010.json',
  sync: 'twilio_sync_v1.json',
  serverless: 'twilio_serverless_v1.json',
};

// ---------------------------------------------------------------------------------------------
// Minimal OpenAPI typings (only what we read)

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type SchemaNode = { [k: string]: Json };

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: SchemaNode;
}

interface Operation {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: SchemaNode }> };
  responses?: Record<string, { content?: Record<string, { schema?: SchemaNode }> }>;
}

type PathItem = Partial<Record<string, Operation>> & { parameters?: Parameter[] };

interface OpenApiDoc {
  paths: Record<string, PathItem>;
  components?: { schemas?: Record<string, SchemaNode> };
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

// ---------------------------------------------------------------------------------------------
// Path templates

interface Segment {
  /** Exact text for a literal segment. */
  literal?: string;
  /** For segments with parameters (`{Sid}` or `{Sid}.json`). */
  regex?: RegExp;
  names: string[];
}

interface Route {
  template: string;
  item: PathItem;
  segments: Segment[];
  /** Per segment: 2 literal, 1 parameter with literal text around it, 0 bare parameter. */
  score: number[];
}

interface Resolved {
  spec: LoadedSpec;
  route: Route;
  params: Record<string, string>;
  op?: Operation | undefined;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function compileRoute(template: string, item: PathItem): Route {
  const segments: Segment[] = [];
  const score: number[] = [];
  for (const raw of template.split('/').slice(1)) {
    const names: string[] = [];
    if (!raw.includes('{')) {
      segments.push({ literal: raw, names });
      score.push(2);
      continue;
    }
    let source = '';
    let last = 0;
    for (const m of raw.matchAll(/\{([^}]+)\}/g)) {
      const [whole, name] = m;
      if (name === undefined) throw new Error(`${template}: {…} without a name`); // cannot be: [^}]+ matched
      source += escapeRegex(raw.slice(last, m.index)) + '([^/]+?)';
      names.push(name);
      last = m.index + whole.length;
    }
    source += escapeRegex(raw.slice(last));
    segments.push({ regex: new RegExp(`^${source}$`), names });
    score.push(/^\{[^}]+\}$/.test(raw) ? 0 : 1);
  }
  return { template, item, segments, score };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function matchRoute(route: Route, parts: string[]): Record<string, string> | undefined {
  if (route.segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, seg] of route.segments.entries()) {
    const part = parts[i];
    if (part === undefined) throw new Error('segments and parts have the same length');
    if (seg.literal !== undefined) {
      if (seg.literal !== part) return undefined;
      continue;
    }
    const m = seg.regex!.exec(part);
    if (!m) return undefined;
    for (const [j, name] of seg.names.entries()) {
      // One group per name, and each always takes part in a match.
      const value = m[j + 1];
      if (value === undefined) throw new Error(`${route.template}: no group for {${name}}`);
      params[name] = safeDecode(value);
    }
  }
  return params;
}

/** Lexicographic comparison of segment scores: a literal earlier in the path wins. */
function compareScores(a: number[], b: number[]): number {
  for (const [i, x] of a.entries()) {
    const y = b[i];
    if (y === undefined) break; // b is the shorter
    if (x !== y) return x - y;
  }
  return a.length - b.length;
}

// ---------------------------------------------------------------------------------------------
// OpenAPI 3.0 schema → JSON Schema (draft-07, as compiled by ajv's default class)

/** JSON-Schema keywords carried over; everything else (description, example, x-twilio, default, …) is dropped. */
const KEPT_KEYWORDS = new Set([
  'type',
  'enum',
  'const',
  'required',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'multipleOf',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
]);

/** Formats actually enforced; all others are treated as annotations. */
const ENFORCED_FORMATS = new Set(['date', 'date-time', 'date-time-rfc-2822', 'int32', 'int64', 'float', 'double']);

const COMPONENT_REF = '#/components/schemas/';

function escapePointer(name: string): string {
  return encodeURIComponent(name.replace(/~/g, '~0').replace(/\//g, '~1'));
}

function isObject(v: Json | undefined): v is { [k: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Enum components the spec references without `nullable`, whose own description says the value is
 * null at times: `reason_conference_ended` "When a conference is in progress, will be `null`".
 * A reference to one of these also takes null.
 */
export const NULL_BY_DESCRIPTION: readonly string[] = ['conference_enum_reason_conference_ended'];

/** Converts one schema node; component names it references are added to `refs`. */
function convertSchema(node: Json, refs: Set<string>): Json {
  if (!isObject(node)) return node; // `true` / `false` schemas
  const out: { [k: string]: Json } = {};

  if (typeof node.$ref === 'string') {
    if (!node.$ref.startsWith(COMPONENT_REF)) throw new Error(`unsupported $ref ${node.$ref}`);
    const name = node.$ref.slice(COMPONENT_REF.length);
    refs.add(name);
    out.$ref = `#/definitions/${escapePointer(name)}`;
  }
  for (const [k, v] of Object.entries(node)) {
    if (KEPT_KEYWORDS.has(k)) out[k] = v;
  }
  if (typeof node.format === 'string' && ENFORCED_FORMATS.has(node.format)) out.format = node.format;
  if (isObject(node.properties)) {
    const props: { [k: string]: Json } = {};
    for (const [name, sub] of Object.entries(node.properties)) props[name] = convertSchema(sub, refs);
    out.properties = props;
  }
  if (node.items !== undefined) {
    out.items = Array.isArray(node.items)
      ? node.items.map((s) => convertSchema(s, refs))
      : convertSchema(node.items, refs);
  }
  if (node.additionalProperties !== undefined)
    out.additionalProperties = convertSchema(node.additionalProperties, refs);
  if (node.not !== undefined) out.not = convertSchema(node.not, refs);
  for (const k of ['allOf', 'anyOf', 'oneOf']) {
    const list = node[k];
    if (Array.isArray(list)) out[k] = list.map((s) => convertSchema(s, refs));
  }
  // OpenAPI 3.0 boolean exclusiveMinimum/exclusiveMaximum → draft-07 numbers.
  if (node.exclusiveMinimum === true && typeof node.minimum === 'number') {
    out.exclusiveMinimum = node.minimum;
    delete out.minimum;
  }
  if (node.exclusiveMaximum === true && typeof node.maximum === 'number') {
    out.exclusiveMaximum = node.maximum;
    delete out.maximum;
  }

  const nullByDescription =
    typeof node.$ref === 'string' && NULL_BY_DESCRIPTION.includes(node.$ref.slice(COMPONENT_REF.length));
  if (node.nullable === true || nullByDescription) {
    if (typeof out.type === 'string' && out.$ref === undefined) {
      out.type = [out.type, 'null'];
      if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    } else if (Array.isArray(out.type) && out.$ref === undefined) {
      if (!out.type.includes('null')) out.type = [...out.type, 'null'];
      if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    } else if (out.type !== undefined || out.$ref !== undefined || out.allOf || out.anyOf || out.oneOf || out.enum) {
      return { anyOf: [out, { type: 'null' }] };
    }
    // No type constraint at all: null is already allowed.
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Loaded specs and validators

interface LoadedSpec {
  product: Product;
  doc: OpenApiDoc;
  routes: Route[];
  /** Converted components, filled lazily. */
  converted: Map<string, { schema: Json; refs: Set<string> }>;
}

function specDir(): string {
  return join(dirname(require.resolve('@twilio-alpha/mcp/package.json')), 'twilio-oai', 'spec', 'json');
}

function loadSpec(product: Product): LoadedSpec {
  const doc = JSON.parse(readFileSync(join(specDir(), SPEC_FILES[product]), 'utf8')) as OpenApiDoc;
  const routes = Object.entries(doc.paths).map(([template, item]) => compileRoute(template, item));
  return { product, doc, routes, converted: new Map() };
}

const RFC_2822 =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$/;

function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true, logger: false });
  addFormats(ajv);
  ajv.addFormat('date-time-rfc-2822', (s: string) => RFC_2822.test(s) && !Number.isNaN(Date.parse(s)));
  return ajv;
}

const TWILIO_ERROR_SCHEMA = {
  type: 'object',
  required: ['code', 'message', 'more_info', 'status'],
  properties: {
    code: { type: 'integer' },
    message: { type: 'string' },
    more_info: { type: 'string' },
    status: { type: 'integer' },
  },
};

function describeValue(v: unknown): string {
  const s = JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function valueAt(data: unknown, pointer: string): unknown {
  let cur: unknown = data;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function formatErrors(errors: ErrorObject[] | null | undefined, data: unknown, label: string): string[] {
  if (!errors) return [];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const err of errors) {
    let where = `${label}${err.instancePath}`;
    let detail = err.message ?? err.keyword;
    if (err.keyword === 'required') {
      where = `${label}${err.instancePath}/${String((err.params as { missingProperty: string }).missingProperty)}`;
      detail = 'required but missing';
    } else if (err.keyword === 'enum') {
      detail += ` ${describeValue((err.params as { allowedValues: unknown[] }).allowedValues)}`;
    }
    const line =
      err.keyword === 'required'
        ? `${where}: ${detail}`
        : `${where} = ${describeValue(valueAt(data, err.instancePath))}: ${detail}`;
    if (!seen.has(line)) {
      seen.add(line);
      out.push(line);
    }
  }
  return out;
}

class OpenApiContract implements Contract {
  private readonly specs = new Map<Product, LoadedSpec>();
  private readonly ajv = newAjv();
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly errorValidator: ValidateFunction = this.ajv.compile(TWILIO_ERROR_SCHEMA);

  private spec(product: Product): LoadedSpec {
    let spec = this.specs.get(product);
    if (!spec) {
      if (!(product in SPEC_FILES)) throw new Error(`unknown product ${product}`);
      spec = loadSpec(product);
      this.specs.set(product, spec);
    }
    return spec;
  }

  /** Loads both specs now (they are otherwise loaded on first use). */
  preload(): void {
    this.spec('api');
    this.spec('sync');
  }

  private resolve(e: Pick<Exchange, 'product' | 'method' | 'path'>): Resolved | undefined {
    const spec = this.spec(e.product);
    const path = e.path.split('?')[0] ?? ''; // split always yields a first part
    if (!path.startsWith('/')) return undefined;
    const parts = path.split('/').slice(1);
    const method = e.method.toLowerCase();
    let best: Resolved | undefined;
    for (const route of spec.routes) {
      const params = matchRoute(route, parts);
      if (!params) continue;
      const op = METHODS.includes(method) ? route.item[method] : undefined;
      const candidate: Resolved = { spec, route, params, op };
      if (!best || (op && !best.op) || (!!op === !!best.op && compareScores(route.score, best.route.score) > 0)) {
        best = candidate;
      }
    }
    return best;
  }

  operationFor(e: Pick<Exchange, 'product' | 'method' | 'path'>): string | undefined {
    return this.resolve(e)?.op?.operationId;
  }

  /** Compiles (once) a validator for a spec schema, with the components it needs as `definitions`. */
  private validator(spec: LoadedSpec, key: string, schema: SchemaNode, adjust?: (s: Json) => Json): ValidateFunction {
    const cacheKey = `${spec.product}|${key}`;
    let v = this.validators.get(cacheKey);
    if (v) return v;
    const refs = new Set<string>();
    let root = convertSchema(schema, refs);
    if (adjust) root = adjust(root);
    const definitions: { [k: string]: Json } = {};
    const pending = [...refs];
    const done = new Set<string>();
    while (pending.length) {
      const name = pending.pop()!;
      if (done.has(name)) continue;
      done.add(name);
      let conv = spec.converted.get(name);
      if (!conv) {
        const raw = spec.doc.components?.schemas?.[name];
        if (!raw) throw new Error(`${spec.product}: missing component schema ${name}`);
        const subRefs = new Set<string>();
        conv = { schema: convertSchema(raw, subRefs), refs: subRefs };
        spec.converted.set(name, conv);
      }
      definitions[name] = conv.schema;
      pending.push(...conv.refs);
    }
    v = this.ajv.compile({ definitions, allOf: [root] });
    this.validators.set(cacheKey, v);
    return v;
  }

  /** Follows top-level `$ref`s to find the effective schema (for coercing form/query strings). */
  private deref(spec: LoadedSpec, schema: SchemaNode | undefined): SchemaNode | undefined {
    let cur = schema;
    for (let i = 0; cur && typeof cur.$ref === 'string' && i < 20; i++) {
      cur = spec.doc.components?.schemas?.[cur.$ref.slice(COMPONENT_REF.length)];
    }
    return cur;
  }

  private parameters(r: Resolved): Parameter[] {
    const byKey = new Map<string, Parameter>();
    for (const p of [...(r.route.item.parameters ?? []), ...(r.op?.parameters ?? [])])
      byKey.set(`${p.in}:${p.name}`, p);
    return [...byKey.values()];
  }

  /** Turns a form/query string into the JSON value the schema describes (the client serialises everything as strings). */
  private coerce(spec: LoadedSpec, schema: SchemaNode | undefined, value: string): unknown {
    const type = this.deref(spec, schema)?.type;
    const types = Array.isArray(type) ? type : [type];
    if (types.includes('integer') && /^[+-]?\d+$/.test(value)) return Number(value);
    if (types.includes('number') && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
    if (types.includes('boolean') && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
    if (types.includes('object') || types.includes('array')) {
      try {
        return JSON.parse(value);
      } catch {
        return value;
      }
    }
    return value;
  }

  /** Validates one form/query value (possibly repeated) against its schema. */
  private checkValue(
    spec: LoadedSpec,
    key: string,
    label: string,
    schema: SchemaNode | undefined,
    raw: string | string[],
  ): string[] {
    if (!schema) return [];
    const effective = this.deref(spec, schema);
    const isArray = effective?.type === 'array' || (Array.isArray(effective?.type) && effective.type.includes('array'));
    let data: unknown;
    if (isArray) {
      const itemSchema = isObject(effective?.items) ? effective.items : undefined;
      data = (Array.isArray(raw) ? raw : [raw]).map((v) => this.coerce(spec, itemSchema, v));
    } else {
      if (Array.isArray(raw)) {
        const [only, ...more] = raw;
        if (only === undefined || more.length > 0)
          return [`${label}: sent ${raw.length} times but is not an array parameter`];
        raw = only;
      }
      data = this.coerce(spec, schema, raw);
    }
    const v = this.validator(spec, key, schema);
    return v(data) ? [] : formatErrors(v.errors, data, label);
  }

  checkRequest(e: Exchange): ContractProblem[] {
    const exchange = describeExchange(e);
    const problems: string[] = [];
    const r = this.resolve(e);
    if (!r) return [{ exchange, problem: `no path template of the ${e.product} spec matches ${e.path}` }];
    if (!r.op) {
      const allowed = METHODS.filter((m) => r.route.item[m]).map((m) => m.toUpperCase());
      return [
        {
          exchange,
          problem: `${r.route.template} has no ${e.method.toUpperCase()} operation (documented: ${allowed.join(', ') || 'none'})`,
        },
      ];
    }
    const op = r.op;
    const spec = r.spec;
    const params = this.parameters(r);

    // Path parameters.
    for (const p of params.filter((p) => p.in === 'path')) {
      const value = r.params[p.name];
      if (value === undefined) {
        problems.push(`path param ${p.name}: declared by ${op.operationId} but not in template ${r.route.template}`);
        continue;
      }
      if (value === '') {
        problems.push(`path param ${p.name}: empty`);
        continue;
      }
      const exempt = acceptsUniqueName(spec.product, r.route.template, p.name);
      const schema = p.schema ?? {};
      const key = `${op.operationId}|path|${p.name}|${exempt ? 'name' : 'sid'}`;
      const v = this.validator(spec, key, schema, (s) => {
        if (!exempt || !isObject(s)) return s;
        const { pattern: _p, minLength: _min, maxLength: _max, ...rest } = s;
        return rest;
      });
      if (!v(value)) problems.push(...formatErrors(v.errors, value, `path param ${p.name}`));
    }

    // Query parameters.
    const queryParams = new Map(params.filter((p) => p.in === 'query').map((p) => [p.name, p]));
    for (const p of queryParams.values()) {
      if (p.required && e.query[p.name] === undefined) problems.push(`query param ${p.name}: required but missing`);
    }
    for (const [name, raw] of Object.entries(e.query)) {
      const p = queryParams.get(name);
      if (!p) {
        problems.push(`query param ${name}: not declared by ${op.operationId}${declared([...queryParams.keys()])}`);
        continue;
      }
      problems.push(...this.checkValue(spec, `${op.operationId}|query|${name}`, `query param ${name}`, p.schema, raw));
    }

    // Form (request body) parameters; header parameters such as If-Match are not our business.
    const bodySchema = this.deref(spec, op.requestBody?.content?.['application/x-www-form-urlencoded']?.schema);
    const props = isObject(bodySchema?.properties) ? (bodySchema.properties as Record<string, SchemaNode>) : {};
    const required = Array.isArray(bodySchema?.required) ? (bodySchema.required as string[]) : [];
    for (const name of required) {
      if (e.form[name] === undefined) problems.push(`form param ${name}: required by ${op.operationId} but missing`);
    }
    for (const [name, raw] of Object.entries(e.form)) {
      if (!Object.hasOwn(props, name)) {
        problems.push(
          bodySchema
            ? `form param ${name}: not declared by ${op.operationId}${declared(Object.keys(props))}`
            : `form param ${name}: ${op.operationId} takes no request body`,
        );
        continue;
      }
      problems.push(...this.checkValue(spec, `${op.operationId}|form|${name}`, `form param ${name}`, props[name], raw));
    }

    return problems.map((problem) => ({ exchange, problem }));
  }

  checkResponse(e: Exchange): ContractProblem[] {
    const exchange = describeExchange(e);
    const problems: string[] = [];
    const r = this.resolve(e);
    if (!r?.op) {
      return [{ exchange, problem: `no ${e.product} spec operation for ${e.method.toUpperCase()} ${e.path}` }];
    }
    const op = r.op;
    const body = parseBody(e.responseBody);

    if (e.status >= 400) {
      if (body.kind === 'invalid')
        return [{ exchange, problem: `error body is not JSON: ${describeValue(e.responseBody)}` }];
      const data = body.kind === 'json' ? body.value : undefined;
      if (!this.errorValidator(data)) {
        problems.push(
          `error body is not Twilio's {code, message, more_info, status} shape: ${formatErrors(this.errorValidator.errors, data, 'body').join('; ')}`,
        );
      } else if ((data as { status: number }).status !== e.status) {
        problems.push(`error body status ${(data as { status: number }).status} differs from HTTP status ${e.status}`);
      }
      return problems.map((problem) => ({ exchange, problem }));
    }

    const responses = op.responses ?? {};
    const documented = responses[String(e.status)] ?? responses[`${String(e.status)[0]}XX`] ?? responses.default;
    if (!documented) {
      return [
        {
          exchange,
          problem: `status ${e.status} is not documented for ${op.operationId} (documented: ${Object.keys(responses).join(', ')})`,
        },
      ];
    }
    const schema = documented.content?.['application/json']?.schema;
    if (!schema) {
      if (body.kind !== 'empty')
        problems.push(
          `status ${e.status} of ${op.operationId} documents no body, got ${describeValue(e.responseBody)}`,
        );
      return problems.map((problem) => ({ exchange, problem }));
    }
    if (body.kind !== 'json') {
      problems.push(
        `body is ${body.kind === 'empty' ? 'empty' : 'not JSON'}, ${op.operationId} ${e.status} documents a JSON body`,
      );
      return problems.map((problem) => ({ exchange, problem }));
    }
    const v = this.validator(r.spec, `${op.operationId}|response|${e.status}`, schema);
    if (!v(body.value)) problems.push(...formatErrors(v.errors, body.value, 'body'));
    return problems.map((problem) => ({ exchange, problem }));
  }
}

function declared(names: string[]): string {
  return names.length ? ` (declared: ${names.join(', ')})` : ' (it declares none)';
}

function parseBody(body: unknown): { kind: 'empty' } | { kind: 'invalid' } | { kind: 'json'; value: unknown } {
  if (body === undefined || body === null || body === '') return { kind: 'empty' };
  if (Buffer.isBuffer(body)) return parseBody(body.toString('utf8'));
  if (typeof body === 'string') {
    try {
      return { kind: 'json', value: JSON.parse(body) };
    } catch {
      return { kind: 'invalid' };
    }
  }
  return { kind: 'json', value: body };
}

export function describeExchange(e: Pick<Exchange, 'product' | 'method' | 'path' | 'status'>): string {
  return `[${e.product}] ${e.method.toUpperCase()} ${e.path} → ${e.status}`;
}

let cached: OpenApiContract | undefined;

/** The contract of both specs; loaded once per process, validators compiled lazily per operation and status. */
export function loadContract(): Contract {
  if (!cached) {
    cached = new OpenApiContract();
    cached.preload();
  }
  return cached;
}

/** Both kinds of problems for a batch of recorded exchanges. */
export function checkExchanges(exchanges: Exchange[], contract: Contract = loadContract()): ContractProblem[] {
  return exchanges.flatMap((e) => [...contract.checkRequest(e), ...contract.checkResponse(e)]);
}

// Typed contracts for call messages (optional, off by default): a JSON Schema per value of a `type`
// field in the content, from a private asset named by MESSAGE_SCHEMAS_ASSET. /send-message (and the
// console, and replies) refuse content that violates them; a message from the SDK that violates them
// is stored and forwarded flagged (valid: false). Compiled with ajv once per cold start.
//
// The file: { "typeField"?: "type", "additionalTypes"?: true, "types": { "<type value>": <JSON Schema> } }
// `additionalTypes: false` refuses content whose type has no schema (or that has no type at all).
import type { ErrorObject, ValidateFunction } from 'ajv';
import { createHash } from 'node:crypto';
import type { Config } from '../platform/config';
import { apiError } from '../shared/error-catalogue';
import { jsonDepth, parseJson } from '../shared/json-text';
import { MAX_PARSED_DEPTH } from '../shared/limits';

export const SCHEMAS_VARIABLE = 'MESSAGE_SCHEMAS_ASSET';

export interface SchemaViolation {
  /** JSON Pointer into the content ('' = the content itself). */
  path: string;
  /** The JSON Schema keyword that failed (type, required, const, …), or `type-unknown` / `nesting`. */
  rule: string;
  /** `<path>: <what is wrong> (<rule>)`, as stored in validationError and answered in a 400. */
  message: string;
}

export interface MessageSchemas {
  /** Undefined when the content satisfies the schemas. */
  check(content: string): SchemaViolation | undefined;
}

interface SchemaFile {
  typeField?: unknown;
  additionalTypes?: unknown;
  types?: unknown;
}

const invalidFile = (why: string) =>
  apiError('configuration-invalid', `${SCHEMAS_VARIABLE}: the message schemas ${why}.`);

/** Compiles a schema file's text (throws 500 configuration-invalid naming what is wrong). */
export function compileMessageSchemas(text: string): MessageSchemas {
  const parsed = parseJson(text);
  if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null || Array.isArray(parsed.value))
    throw invalidFile('are not a JSON object');
  const file = parsed.value as SchemaFile;
  const typeField = file.typeField ?? 'type';
  if (typeof typeField !== 'string' || typeField === '') throw invalidFile('have a typeField that is not a name');
  if (file.additionalTypes !== undefined && typeof file.additionalTypes !== 'boolean')
    throw invalidFile('have an additionalTypes that is not true or false');
  const allowOthers = file.additionalTypes !== false;
  if (typeof file.types !== 'object' || file.types === null || Array.isArray(file.types))
    throw invalidFile('have no "types" object (type value → JSON Schema)');
  // ajv is loaded here, not at the top: a cold start with schemas off (the default) never evaluates
  // it (it is ~10 ms of a bundle's load with twilio preloaded). The bundler still inlines it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Ajv = (require('ajv') as typeof import('ajv')).default;
  // Formats are not checked (no ajv-formats: it would add to every bundle that validates).
  const ajv = new Ajv({ allErrors: false, strict: true, validateFormats: false });
  const validators = new Map<string, ValidateFunction>();
  for (const [type, schema] of Object.entries(file.types as Record<string, unknown>)) {
    try {
      validators.set(type, ajv.compile(schema as object));
    } catch (err) {
      throw invalidFile(`for type ${JSON.stringify(type)} do not compile: ${(err as Error).message}`);
    }
  }
  return {
    check(content) {
      // ajv walks the data recursively: nothing deeper than the depth we ever parse reaches it.
      if (jsonDepth(content) > MAX_PARSED_DEPTH)
        return violation('', 'nesting', `nests deeper than ${MAX_PARSED_DEPTH} levels`);
      const value = parseJson(content);
      if (!value.ok) return violation('', 'json', 'is not JSON');
      const data = value.value;
      const type = isJsonObject(data) ? data[typeField] : undefined;
      const validate = typeof type === 'string' ? validators.get(type) : undefined;
      if (!validate) {
        if (allowOthers) return undefined;
        return typeof type === 'string'
          ? violation(pointer(typeField), 'type-unknown', `${JSON.stringify(type)} has no schema`)
          : violation(pointer(typeField), 'type-unknown', 'is missing: every message needs a type with a schema');
      }
      if (validate(data)) return undefined;
      return fromAjv(validate.errors?.[0]);
    },
  };
}

const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const pointer = (field: string) => `/${field.replace(/~/g, '~0').replace(/\//g, '~1')}`;

function violation(path: string, rule: string, what: string): SchemaViolation {
  return { path, rule, message: `${path || '/'}: ${what} (${rule})` };
}

function fromAjv(error: ErrorObject | undefined): SchemaViolation {
  if (!error) return violation('', 'schema', 'does not match the schema');
  const extra =
    error.keyword === 'additionalProperties'
      ? (error.params as { additionalProperty?: string }).additionalProperty
      : undefined;
  const what = `${error.message ?? 'is invalid'}${extra !== undefined ? ` (${JSON.stringify(extra)})` : ''}`;
  return violation(error.instancePath, error.keyword, what);
}

/** Reads a private asset's text (Runtime.getAssets on Twilio and under twilio-run); undefined when there is none. */
export type AssetReader = (path: string) => string | undefined;

/** The Functions runtime's assets, looked up when first needed (tests pass their own reader). */
const runtimeAssets: AssetReader = (path) => {
  const runtime = (globalThis as { Runtime?: { getAssets(): Record<string, { open(): string } | undefined> } }).Runtime;
  return runtime?.getAssets()[path]?.open();
};

/** Compiled once per cold start (per asset text): what ajv costs is paid by the first request only. */
let compiled: { hash: string; schemas: MessageSchemas } | undefined;

/**
 * The message schemas, when MESSAGE_SCHEMAS_ASSET names a private asset (e.g. `/message-schemas.json`
 * for assets/message-schemas.private.json); undefined when it is unset (schemas off).
 */
export function messageSchemas(
  config: Pick<Config, 'raw'>,
  readAsset: AssetReader = runtimeAssets,
): MessageSchemas | undefined {
  const path = config.raw[SCHEMAS_VARIABLE];
  if (!path) return undefined;
  const text = readAsset(path);
  if (text === undefined)
    throw invalidFile(`asset ${path} does not exist (a private asset: assets/<name>.private.json)`);
  const hash = createHash('sha256').update(text).digest('hex');
  if (compiled?.hash !== hash) compiled = { hash, schemas: compileMessageSchemas(text) };
  return compiled.schemas;
}

/** Throws 400 content-schema-invalid (naming the JSON path and rule) when schemas are on and `content` violates them. */
export function requireSchemaValid(config: Pick<Config, 'raw'>, content: string, readAsset?: AssetReader): void {
  const found = messageSchemas(config, readAsset)?.check(content);
  if (found) {
    throw apiError('content-schema-invalid', `content ${found.message}`, {
      details: { path: found.path, rule: found.rule },
    });
  }
}

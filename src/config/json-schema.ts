import { z } from 'zod';
import { PLACEHOLDER } from './interpolate.js';
import { connectorDispatchSchema, createConfigSchema, type ConnectorSchemas } from './schema.js';
import { writtenForms, type JsonSchemaObject } from './values.js';

/**
 * config.schema.json: the JSON Schema of the config file as it is written,
 * for editors. It is generated from the zod schemas the bridge validates
 * with, on their input side (before any transform), and then says what zod
 * cannot: how each value may be written (`writtenForms`), each connector type's
 * options under `connectors`, and a `${VAR}` wherever interpolation lets a
 * string stand for a value. Cross-references and checks that need the value
 * itself (templates, JSONata, PEM files) stay with `audian-bridge check`.
 */

type Json = Record<string, unknown>;

const PLACEHOLDER_REF = { $ref: '#/definitions/placeholder' };

/** The JSON Schema of the config file, given the connector types it may configure. */
export function configJsonSchema(connectors: ConnectorSchemas): Json {
  const definitions: Json = {
    placeholder: {
      type: 'string',
      pattern: PLACEHOLDER.source,
      description: 'filled in from the environment when the file is loaded: ${VAR}, ${VAR:-default} or ${file:/path}',
    },
  };
  const generate = generator(definitions);
  const root = generate(createConfigSchema(connectors));
  const types = Object.keys(connectors).sort();
  for (const type of types) definitions[connectorDefinition(type)] = connectorOptions(generate, connectors[type]!.schema);
  const properties = root.properties as Json;
  properties.connectors = { ...(properties.connectors as Json), additionalProperties: connectorEntry(types) };
  return withPlaceholders({
    $schema: root.$schema,
    title: 'audian-bridge configuration',
    description: 'Every key is described in docs/configuration.md; `audian-bridge check` validates a file completely.',
    ...Object.fromEntries(Object.entries(root).filter(([key]) => key !== '$schema')),
    definitions,
  }) as Json;
}

/** config.schema.json's text: the schema as indented JSON with a final line break. */
export function configJsonSchemaText(connectors: ConnectorSchemas): string {
  return `${JSON.stringify(configJsonSchema(connectors), null, 2)}\n`;
}

type Generate = (schema: z.ZodType) => Json;

/**
 * zod's JSON Schema of a schema's input side, in draft 07 (what editors' YAML
 * and JSON language servers read best), with each value's written form; a
 * named form is kept once in `definitions`.
 */
function generator(definitions: Json): Generate {
  const override = ({ zodSchema, jsonSchema }: { zodSchema: z.core.$ZodTypes; jsonSchema: z.core.JSONSchema.BaseSchema }) => {
    const form = writtenForms.get(zodSchema);
    if (!form) return;
    const derived: Json = { ...jsonSchema };
    for (const key of Object.keys(jsonSchema)) delete (jsonSchema as Json)[key];
    if (form.written && form.name) {
      definitions[form.name] = form.written;
      Object.assign(jsonSchema, { $ref: `#/definitions/${form.name}` });
    } else {
      const anyOf: JsonSchemaObject[] = form.written ? [form.written] : [derived, ...(form.alsoWritten ?? [])];
      Object.assign(jsonSchema, anyOf.length === 1 ? anyOf[0] : { anyOf });
    }
  };
  return (schema) => z.toJSONSchema(schema, { target: 'draft-07', io: 'input', override }) as Json;
}

const connectorDefinition = (type: string) => `connector-${type}`;

/** A connector type's options, and the `dispatch` overrides every connector takes beside them. */
function connectorOptions(generate: Generate, schema: z.ZodType): Json {
  const { $schema: _draft, ...options } = generate(schema);
  const { $schema: _alsoDraft, ...dispatch } = generate(connectorDispatchSchema);
  return { ...options, properties: { ...(options.properties as Json), dispatch } };
}

/** A `connectors` entry: its `type` picks which options apply. */
function connectorEntry(types: readonly string[]): Json {
  return {
    type: 'object',
    required: ['type'],
    properties: { type: { enum: types } },
    allOf: types.map((type) => ({
      if: { properties: { type: { const: type } }, required: ['type'] },
      then: { $ref: `#/definitions/${connectorDefinition(type)}` },
    })),
  };
}

/** Keywords whose value is one subschema, and those whose value is a list or a map of them. */
const SUBSCHEMA = ['additionalProperties', 'items', 'then', 'else', 'not'];
const SUBSCHEMA_LISTS = ['anyOf', 'oneOf', 'allOf'];
const SUBSCHEMA_MAPS = ['properties', 'definitions', 'patternProperties'];

/**
 * Lets a `${VAR}` stand wherever interpolation can produce an accepted value:
 * every subschema that accepts some strings but not every string (a pattern,
 * a choice) also accepts a placeholder. Numbers and booleans that accept their
 * string forms get it through those; `if` and `propertyNames` are left alone,
 * since keys and the connector type's discriminator are never interpolated into.
 */
function withPlaceholders(node: unknown): unknown {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return node;
  const out: Json = { ...(node as Json) };
  for (const key of SUBSCHEMA) if (key in out) out[key] = withPlaceholders(out[key]);
  for (const key of SUBSCHEMA_LISTS) if (Array.isArray(out[key])) out[key] = (out[key] as unknown[]).map(withPlaceholders);
  for (const key of SUBSCHEMA_MAPS) {
    if (typeof out[key] === 'object' && out[key] !== null) {
      out[key] = Object.fromEntries(Object.entries(out[key] as Json).map(([name, value]) => [name, key === 'definitions' && name === 'placeholder' ? value : withPlaceholders(value)]));
    }
  }
  // zod wraps a reference with a default beside it in allOf (draft 07 ignores keywords beside $ref); alone, it is the reference.
  if (Object.keys(out).length === 1 && Array.isArray(out.allOf) && out.allOf.length === 1) return out.allOf[0];
  if (Array.isArray(out.anyOf)) out.anyOf = (out.anyOf as Json[]).flatMap((member) => (Object.keys(member).length === 1 && Array.isArray(member.anyOf) ? member.anyOf : [member]));
  if (!constrainsStrings(out)) return out;
  // Annotations stay where an editor looks for them: on the value, not inside one of its forms.
  const { default: fallback, description, ...constraints } = out;
  return { ...(fallback === undefined ? {} : { default: fallback }), ...(description === undefined ? {} : { description }), anyOf: [constraints, PLACEHOLDER_REF] };
}

/** Whether a subschema accepts some strings, but not one holding a placeholder. */
function constrainsStrings(schema: Json): boolean {
  const choices = Array.isArray(schema.enum) ? schema.enum : 'const' in schema ? [schema.const] : undefined;
  if (choices) return choices.some((choice) => typeof choice === 'string');
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  return types.includes('string') && ('pattern' in schema || 'format' in schema || 'maxLength' in schema);
}

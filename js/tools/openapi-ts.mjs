// Generates the TypeScript types of the merchant server's API from its OpenAPI document, so
// the client reads the fields the server documents instead of guessing at spellings.
//
//   node openapi-ts.mjs <openapi.json> <out.ts>           write <out.ts>
//   node openapi-ts.mjs <openapi.json> <out.ts> --check   exit 1 when <out.ts> differs
//
// The document comes from the server itself (`cargo run -p wxpay-server --example openapi`,
// the same value `GET /openapi.json` serves); `scripts/gen-server-api.sh` regenerates the
// checked-in file and `scripts/test-client.sh` runs the check.
//
// Output: `Schemas` (one member per `components.schemas` entry) and `Paths` (per path and
// method: parameters, request body, and each response's JSON body). The subset of JSON Schema
// understood is the one the server's document uses; anything else is an error, never a silent
// `unknown`, so a new construct in the document is noticed here first. Keys are sorted, so
// the output does not depend on the order in which the server happened to serialise them.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const IDENT = /^[A-Za-z_$][\w$]*$/;
const REF = /^#\/components\/schemas\/([A-Za-z_][\w]*)$/;
/** Keywords that describe a value without changing its TypeScript type (kept as doc lines). */
const DOC_ONLY = ['title', 'description', 'default', 'pattern', 'minimum', 'maximum', 'minItems', 'maxItems', 'maxLength', 'minLength', 'format'];

const key = (k) => (IDENT.test(k) ? k : `'${k.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`);
const literal = (v) => (typeof v === 'string' ? `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : JSON.stringify(v));
const sorted = (o) => Object.keys(o).sort();

/** JSDoc lines for a schema's descriptive keywords. */
function docLines(s) {
  const lines = [];
  if (typeof s.title === 'string') lines.push(s.title);
  if (typeof s.description === 'string') lines.push(...s.description.split('\n'));
  for (const k of DOC_ONLY.slice(2)) if (s[k] !== undefined) lines.push(`@${k} ${JSON.stringify(s[k])}`);
  return lines;
}

function doc(lines, indent) {
  if (lines.length === 0) return '';
  const safe = lines.map((l) => l.replace(/\*\//g, '*\\/'));
  if (safe.length === 1) return `${indent}/** ${safe[0]} */\n`;
  return `${indent}/**\n${safe.map((l) => `${indent} * ${l}`.trimEnd()).join('\n')}\n${indent} */\n`;
}

class Generator {
  constructor(doc) {
    this.doc = doc;
    this.schemas = doc.components?.schemas ?? {};
  }

  fail(where, msg) {
    throw new Error(`openapi-ts: ${where}: ${msg}`);
  }

  /** The TypeScript type of a schema, for a position indented by `indent`. */
  type(s, where, indent) {
    if (s === true || (s && typeof s === 'object' && Object.keys(s).every((k) => DOC_ONLY.includes(k)))) return 'unknown';
    if (!s || typeof s !== 'object' || Array.isArray(s)) this.fail(where, 'a schema must be an object');
    const known = new Set([...DOC_ONLY, '$ref', 'oneOf', 'anyOf', 'allOf', 'const', 'enum', 'type', 'properties', 'required', 'items', 'additionalProperties']);
    for (const k of Object.keys(s)) if (!known.has(k)) this.fail(where, `unsupported keyword "${k}"`);
    if (s.$ref !== undefined) {
      const m = REF.exec(s.$ref);
      if (!m) this.fail(where, `unsupported $ref ${s.$ref}`);
      if (!(m[1] in this.schemas)) this.fail(where, `$ref to a missing schema ${m[1]}`);
      return `Schemas[${literal(m[1])}]`;
    }
    if (s.allOf !== undefined) {
      // Every part holds at once: the intersection of their types.
      if (!Array.isArray(s.allOf) || s.allOf.length === 0) this.fail(where, 'allOf must be a non-empty list');
      return s.allOf.map((part, i) => `(${this.type(part, `${where}.allOf[${i}]`, indent)})`).join(' & ');
    }
    const alternatives = s.oneOf ?? s.anyOf;
    if (alternatives !== undefined) {
      if (!Array.isArray(alternatives) || alternatives.length === 0) this.fail(where, 'oneOf/anyOf must be a non-empty list');
      const inner = `${indent}  `;
      return alternatives
        .map((alt, i) => `\n${doc(docLines(alt), inner)}${inner}| ${this.type(alt, `${where}.oneOf[${i}]`, inner)}`)
        .join('');
    }
    if (s.const !== undefined) return literal(s.const);
    if (s.enum !== undefined) {
      if (!Array.isArray(s.enum) || s.enum.length === 0) this.fail(where, 'enum must be a non-empty list');
      return s.enum.map(literal).join(' | ');
    }
    const types = Array.isArray(s.type) ? s.type : [s.type];
    return types.map((t) => this.single(t, s, where, indent)).join(' | ');
  }

  single(t, s, where, indent) {
    switch (t) {
      case 'string':
        return 'string';
      case 'integer':
      case 'number':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'null':
        return 'null';
      case 'array': {
        if (s.items === undefined) this.fail(where, 'an array needs items');
        return `Array<${this.type(s.items, `${where}.items`, indent)}>`;
      }
      case 'object':
        return this.object(s, where, indent);
      default:
        this.fail(where, `unsupported type ${JSON.stringify(t)}`);
    }
  }

  object(s, where, indent) {
    const props = s.properties ?? {};
    const required = new Set(s.required ?? []);
    for (const r of required) if (!(r in props)) this.fail(where, `required "${r}" is not a property`);
    if (s.additionalProperties !== undefined && s.additionalProperties !== false) this.fail(where, 'additionalProperties is not supported');
    const names = sorted(props);
    if (names.length === 0) return 'Record<string, unknown>';
    const inner = `${indent}  `;
    const lines = names.map(
      (n) => `${doc(docLines(props[n]), inner)}${inner}${key(n)}${required.has(n) ? '' : '?'}: ${this.type(props[n], `${where}.${n}`, inner)};`,
    );
    return `{\n${lines.join('\n')}\n${indent}}`;
  }

  schemasInterface() {
    const members = sorted(this.schemas).map((name) => {
      if (!IDENT.test(name)) this.fail(`components.schemas.${name}`, 'schema names must be identifiers');
      const s = this.schemas[name];
      return `${doc(docLines(s), '  ')}  ${name}: ${this.type(s, `components.schemas.${name}`, '  ')};`;
    });
    return `/** \`components.schemas\`: the bodies the API exchanges. */\nexport interface Schemas {\n${members.join('\n')}\n}\n`;
  }

  jsonBody(content, where, indent) {
    if (content === undefined) return 'unknown';
    const json = content['application/json'];
    if (!json || Object.keys(content).length !== 1) this.fail(where, 'only application/json content is supported');
    return this.type(json.schema ?? true, `${where}.schema`, indent);
  }

  operation(op, where) {
    const ind = '      ';
    const lines = [];
    const params = { path: [], query: [], header: [] };
    for (const p of op.parameters ?? []) {
      if (!(p.in in params)) this.fail(where, `unsupported parameter location ${p.in}`);
      params[p.in].push(`${doc(docLines(p), `${ind}    `)}${ind}    ${key(p.name)}${p.required ? '' : '?'}: ${this.type(p.schema ?? true, `${where}.${p.name}`, `${ind}    `)};`);
    }
    const groups = Object.keys(params).filter((k) => params[k].length > 0);
    if (groups.length > 0) {
      lines.push(`${ind}parameters: {`);
      for (const g of groups) lines.push(`${ind}  ${g}: {`, ...params[g], `${ind}  };`);
      lines.push(`${ind}};`);
    }
    if (op.requestBody !== undefined) {
      const opt = op.requestBody.required ? '' : '?';
      lines.push(`${ind}requestBody${opt}: ${this.jsonBody(op.requestBody.content, `${where}.requestBody`, ind)};`);
    }
    const responses = op.responses ?? {};
    lines.push(`${ind}responses: {`);
    for (const status of sorted(responses)) {
      const r = responses[status];
      lines.push(`${doc(r.description ? [r.description] : [], `${ind}  `)}${ind}  ${key(status)}: ${this.jsonBody(r.content, `${where}.responses.${status}`, `${ind}  `)};`);
    }
    lines.push(`${ind}};`);
    return lines;
  }

  pathsInterface() {
    const paths = this.doc.paths ?? {};
    const out = [];
    for (const path of sorted(paths)) {
      out.push(`  ${key(path)}: {`);
      for (const method of sorted(paths[path])) {
        if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) this.fail(`paths.${path}`, `unsupported method ${method}`);
        const op = paths[path][method];
        out.push(`${doc(docLines({ title: op.summary }), '    ')}    ${method}: {`, ...this.operation(op, `paths.${path}.${method}`), '    };');
      }
      out.push('  };');
    }
    return `/** \`paths\`: per path and method, the parameters, request body and JSON response bodies by status. */\nexport interface Paths {\n${out.join('\n')}\n}\n`;
  }

  generate() {
    const info = this.doc.info ?? {};
    return [
      '// Generated by js/tools/openapi-ts.mjs from the OpenAPI document of wxpay-server',
      '// (`GET /openapi.json`, crates/wxpay-server/src/api/openapi.rs). Do not edit by hand:',
      '// run `scripts/gen-server-api.sh`. scripts/test-client.sh fails when the two disagree.',
      `// Document: ${info.title ?? '?'} (OpenAPI ${this.doc.openapi ?? '?'}).`,
      '',
      this.schemasInterface(),
      this.pathsInterface(),
    ]
      .join('\n')
      .replace(/: \n/g, ':\n');
  }
}

/** The TypeScript source for an OpenAPI document (parsed JSON). */
export function generate(document) {
  return new Generator(document).generate();
}

/** The first differing line of two texts, for a readable drift report. */
export function firstDifference(expected, actual) {
  const a = expected.split('\n');
  const b = actual.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return { line: i + 1, expected: a[i] ?? '(end of file)', actual: b[i] ?? '(end of file)' };
  }
  return undefined;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [input, output, mode] = process.argv.slice(2);
  if (!input || !output || (mode !== undefined && mode !== '--check')) {
    console.error('usage: openapi-ts.mjs <openapi.json> <out.ts> [--check]');
    process.exit(2);
  }
  const text = generate(JSON.parse(readFileSync(input, 'utf8')));
  if (mode === '--check') {
    let current = '';
    try {
      current = readFileSync(output, 'utf8');
    } catch {
      current = '';
    }
    const diff = firstDifference(text, current);
    if (diff) {
      console.error(
        `SERVER API DRIFT: ${output} does not match the server's OpenAPI document (line ${diff.line}):\n` +
          `  from the document: ${diff.expected}\n  checked in:        ${diff.actual}\n` +
          'Run scripts/gen-server-api.sh, then fix the client code the new types no longer fit.',
      );
      process.exit(1);
    }
    console.log(`openapi-ts: ${output} matches the server's OpenAPI document`);
  } else {
    writeFileSync(output, text);
    console.log(`openapi-ts: wrote ${output}`);
  }
}

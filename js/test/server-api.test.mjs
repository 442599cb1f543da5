// The client's types of the merchant server's API (js/src/core/server-api.ts) against the
// server's own OpenAPI document. scripts/gen-server-api.sh --check (run by test-client.sh
// before this file) prints the document into target/wxpay-openapi.json; here:
//   - the checked-in file is exactly what the generator makes of that document;
//   - a changed document is reported as drift by the generator's --check mode;
//   - the generator refuses constructs it does not understand instead of typing them `unknown`;
//   - when the document stops documenting a field the client reads, the client stops compiling.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { generate } from '../tools/openapi-ts.mjs';

const js = fileURLToPath(new URL('..', import.meta.url));
const root = join(js, '..');
const docPath = join(process.env.CARGO_TARGET_DIR ?? join(root, 'target'), 'wxpay-openapi.json');
const checkedIn = join(js, 'src/core/server-api.ts');
mkdirSync(join(js, 'build'), { recursive: true });
const work = mkdtempSync(join(js, 'build', 'server-api-')); // inside js/ so node_modules resolves
after(() => rmSync(work, { recursive: true, force: true }));

function serverDocument() {
  assert.ok(existsSync(docPath), `${docPath} is missing: run scripts/gen-server-api.sh --check first (test-client.sh does)`);
  return JSON.parse(readFileSync(docPath, 'utf8'));
}

/** The document with one edit applied to a deep copy. */
function edited(edit) {
  const doc = structuredClone(serverDocument());
  edit(doc.components.schemas);
  return doc;
}
const h5Variant = (schemas) => schemas.PayResponse.properties.params.oneOf.find((v) => v.properties?.h5Url);
const renameH5Url = (schemas) => {
  const v = h5Variant(schemas);
  v.properties.h5_url = v.properties.h5Url;
  delete v.properties.h5Url;
  v.required = ['h5_url'];
};

test('server-api.ts is what the generator makes of the server\'s document', () => {
  assert.equal(readFileSync(checkedIn, 'utf8'), generate(serverDocument()));
});

test('a changed document is reported as drift (--check exits 1 and names the line)', () => {
  const doc = join(work, 'renamed.json');
  writeFileSync(doc, JSON.stringify(edited(renameH5Url)));
  const r = spawnSync(process.execPath, [join(js, 'tools/openapi-ts.mjs'), doc, checkedIn, '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /SERVER API DRIFT/);
  assert.match(r.stderr, /h5_url/);
  const same = join(work, 'same.json');
  writeFileSync(same, JSON.stringify(serverDocument()));
  const ok = spawnSync(process.execPath, [join(js, 'tools/openapi-ts.mjs'), same, checkedIn, '--check'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
});

test('the output does not depend on the order of keys in the document', () => {
  const reverse = (v) =>
    Array.isArray(v) ? v.map(reverse) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverse(x)])) : v;
  assert.equal(generate(reverse(serverDocument())), generate(serverDocument()));
});

test('constructs the generator does not understand are errors, not `unknown`', () => {
  const cases = [
    [(s) => (s.Order.not = { type: 'object' }), /unsupported keyword "not"/],
    [(s) => (s.Order.allOf = []), /allOf must be a non-empty list/],
    [(s) => (s.Order.properties.state.$ref = '#/components/schemas/Nope'), /missing schema Nope/],
    [(s) => (s.Order.properties.amount_fen.type = 'decimal'), /unsupported type "decimal"/],
    [(s) => (s.Order.required = ['no_such_field']), /required "no_such_field" is not a property/],
    [(s) => (s.Order.additionalProperties = { type: 'string' }), /additionalProperties/],
  ];
  for (const [edit, message] of cases) assert.throws(() => generate(edited(edit)), message);
});

test('the client stops compiling when a field it reads leaves the document', () => {
  // A copy of the sources (generated glue included) with server-api.ts from an edited document.
  const copy = join(work, 'client');
  cpSync(join(js, 'src'), join(copy, 'src'), { recursive: true });
  const tsconfig = {
    extends: join(js, 'tsconfig.esm.json'),
    compilerOptions: { rootDir: './src', noEmit: true },
    files: JSON.parse(readFileSync(join(js, 'tsconfig.esm.json'), 'utf8')).files,
  };
  writeFileSync(join(copy, 'tsconfig.json'), JSON.stringify(tsconfig));
  const tsc = () => {
    try {
      execFileSync(join(js, 'node_modules/.bin/tsc'), ['-p', join(copy, 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' });
      return '';
    } catch (e) {
      return `${e.stdout ?? ''}${e.stderr ?? ''}`;
    }
  };
  assert.equal(tsc(), '', 'the unmodified copy compiles');

  // Two edited documents (each compile takes seconds): every edit of the first must be caught
  // on its own line; the second removes `params` altogether.
  const removeNative = (s) => {
    const alternatives = s.PayResponse.properties.params.oneOf;
    alternatives.splice(alternatives.findIndex((v) => v.properties?.codeUrl), 1);
  };
  const removeState = (s) => delete s.Order.properties.state;
  const renameErrorMessage = (s) => {
    const detail = s.Error.properties.error;
    detail.properties.msg = detail.properties.message;
    delete detail.properties.message;
    detail.required = ['code', 'msg'];
  };
  const dropJssdk = (s) => (s.PayRequest.properties.channel.enum = s.PayRequest.properties.channel.enum.filter((c) => c !== 'jssdk'));
  writeFileSync(
    join(copy, 'src/core/server-api.ts'),
    generate(edited((s) => [renameH5Url, removeNative, removeState, renameErrorMessage, dropJssdk].forEach((f) => f(s)))),
  );
  const errors = tsc();
  for (const [what, error] of [
    ['PayResponse H5 h5Url renamed', /server\.ts.*"h5Url"/],
    ['PayResponse Native codeUrl removed', /server\.ts.*"codeUrl"/],
    ['Order state removed', /server\.ts.*"state"/],
    ['Error message renamed', /server\.ts.*"message"/],
    ['PayRequest channel jssdk dropped', /client\.ts.*"jssdk"/],
  ]) {
    assert.match(errors, error, `${what}:\n${errors}`);
  }
  writeFileSync(
    join(copy, 'src/core/server-api.ts'),
    generate(edited((s) => {
      delete s.PayResponse.properties.params;
      s.PayResponse.required = ['out_trade_no', 'channel'];
    })),
  );
  assert.match(tsc(), /server\.ts.*"params"/, 'PayResponse params removed');
});

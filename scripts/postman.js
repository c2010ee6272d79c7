#!/usr/bin/env node
// Generates the Postman collection and environment from api/openapi.yaml with the pinned
// openapi-to-postmanv2 converter (package.json): a folder per tag, requests filled from the
// spec's examples, optional parameters present but disabled, every request inheriting the
// collection's auth (`Authorization: Bearer {{apiKey}}`) and URLs on `{{baseUrl}}`.
//   node scripts/postman.js [OUT_DIR]   (default api/; `make postman`, scripts/postman.sh)
// Writes OUT_DIR/recur.postman_collection.json and OUT_DIR/recur.postman_environment.json.
//
// The output is a function of the spec alone, so that scripts/postman.sh --check (ctest
// postman_collection) can regenerate it and diff it against the committed files:
//  * the converter fakes the examples the spec does not give with json-schema-faker, which
//    draws on Math.random and dates around `new Date()`. Here Math.random is a PRNG seeded
//    afresh for every schema faked (from the schema's text, so one schema's change leaves
//    the others' fakes alone) and "now" is a fixed instant;
//  * the converter gives every folder, request and example response a random uuid (v4);
//    they are replaced by name-based ones (SHA-1 of the item's place in the collection),
//    which also keeps them stable across regenerations for Postman's imports.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const spec = path.join(root, 'api', 'openapi.yaml');
const outDir = path.resolve(process.argv[2] || path.join(root, 'api'));
const converterDir = path.join(root, 'node_modules', 'openapi-to-postmanv2');

const COLLECTION_FILE = 'recur.postman_collection.json';
const ENVIRONMENT_FILE = 'recur.postman_environment.json';
const BASE_URL = 'http://127.0.0.1:8080';
const API_KEY_PLACEHOLDER = 'replace-with-a-key-from-recur-keys-create';

if (!fs.existsSync(path.join(converterDir, 'package.json'))) {
  console.error(`postman: ${path.relative(root, converterDir)} not found; run scripts/install-deps.sh (npm ci) first`);
  process.exit(2);
}

// ---------------------------------------------------------------- deterministic fakes

const sha1 = (text) => crypto.createHash('sha1').update(text).digest();

// mulberry32: small, fast and good enough for fake example values.
let prngState = 0;
Math.random = () => {
  prngState = (prngState + 0x6d2b79f5) | 0;
  let t = prngState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const seed = (text) => { prngState = sha1(text).readInt32LE(0); };

// "Now" for the faker's dates (it draws them in the 1000 days before now).
const RealDate = Date;
const FIXED_NOW = RealDate.UTC(2026, 0, 1);
class FixedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(FIXED_NOW); else super(...args);
  }
  static now() { return FIXED_NOW; }
}
globalThis.Date = FixedDate;

// The converter requires its bundled json-schema-faker as a function; put a wrapper that
// reseeds before each call in the module cache before the converter is loaded.
const fakerPath = require.resolve(path.join(converterDir, 'assets', 'json-schema-faker.js'));
const faker = require(fakerPath);
function seededFaker(schema, ...rest) {
  seed(JSON.stringify(schema) ?? 'undefined');
  return faker(schema, ...rest);
}
for (const key of Object.getOwnPropertyNames(faker)) {
  if (!['length', 'name', 'prototype', 'arguments', 'caller'].includes(key)) seededFaker[key] = faker[key];
}
require.cache[fakerPath].exports = seededFaker;

const Converter = require(converterDir);

// ---------------------------------------------------------------- deterministic ids

// A version-5-shaped uuid from a name.
function uuidFor(name) {
  const b = sha1(`recur-postman:${name}`).subarray(0, 16);
  b[6] = (b[6] & 0x0f) | 0x50;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// Names each id by the item's place: folder names, then method and path for a request, then
// the status code and name for an example response; a repeated place gets a counter.
function assignIds(collection) {
  const used = new Set();
  const unique = (name) => {
    let candidate = name;
    for (let n = 2; used.has(candidate); n++) candidate = `${name}#${n}`;
    used.add(candidate);
    return uuidFor(candidate);
  };
  const walk = (items, where) => {
    for (const item of items || []) {
      if (Array.isArray(item.item)) {
        const place = `${where}/${item.name}`;
        if ('id' in item) item.id = unique(`folder:${place}`);
        walk(item.item, place);
        continue;
      }
      const request = item.request || {};
      const url = request.url || {};
      const route = Array.isArray(url.path) ? url.path.join('/') : String(url.raw || url);
      const place = `${where}/${request.method} /${route}`;
      if ('id' in item) item.id = unique(`request:${place}`);
      for (const response of item.response || []) {
        if ('id' in response) response.id = unique(`response:${place} ${response.code} ${response.name}`);
      }
    }
  };
  walk(collection.item, '');
}

// ---------------------------------------------------------------- conversion

const options = {
  folderStrategy: 'Tags',
  requestNameSource: 'Fallback', // the operation's summary
  parametersResolution: 'Example', // the spec's examples, faked from the schema only where it has none
  enableOptionalParameters: false, // listed, disabled: a request runs as generated
  alwaysInheritAuthentication: true, // the collection's bearer auth, {{apiKey}}
  includeAuthInfoInExample: false, // example responses' requests leave the header to that auth
  indentCharacter: 'Space',
};

Converter.convertV2({ type: 'file', data: spec }, options, (err, conversion) => {
  if (err || !conversion || !conversion.result) {
    console.error(`postman: openapi-to-postmanv2 could not convert ${path.relative(root, spec)}:`,
                  err ? (err.stack || err) : conversion && conversion.reason);
    process.exit(1);
  }
  const generated = conversion.output.find((o) => o.type === 'collection');
  if (!generated) {
    console.error('postman: the converter returned no collection');
    process.exit(1);
  }
  const collection = generated.data;

  assignIds(collection);
  if (collection.info) collection.info._postman_id = uuidFor(`collection:${collection.info.name}`);

  // Bearer auth on the collection: the converter names the token {{bearerToken}}; the
  // environment file (and Postman's UI) call it apiKey.
  const auth = collection.auth;
  if (!auth || auth.type !== 'bearer' || !Array.isArray(auth.bearer)) {
    console.error(`postman: expected bearer auth on the collection, got ${JSON.stringify(auth)}`);
    process.exit(1);
  }
  for (const entry of auth.bearer) if (entry.key === 'token') entry.value = '{{apiKey}}';

  // info first, for whoever reads the file.
  const ordered = { info: collection.info };
  for (const key of Object.keys(collection)) if (key !== 'info') ordered[key] = collection[key];

  const environment = {
    id: uuidFor(`environment:${collection.info.name}`),
    name: `${collection.info.name} (local)`,
    values: [
      { key: 'baseUrl', value: BASE_URL, type: 'default', enabled: true },
      { key: 'apiKey', value: API_KEY_PLACEHOLDER, type: 'secret', enabled: true },
    ],
    _postman_variable_scope: 'environment',
  };

  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, COLLECTION_FILE), `${JSON.stringify(ordered, null, 2)}\n`);
  fs.writeFileSync(path.join(outDir, ENVIRONMENT_FILE), `${JSON.stringify(environment, null, 2)}\n`);
  const requests = collection.item.reduce((n, folder) => n + (folder.item ? folder.item.length : 1), 0);
  console.log(`postman: ${requests} requests in ${collection.item.length} folders -> ` +
              `${path.relative(process.cwd(), path.join(outDir, COLLECTION_FILE)) || COLLECTION_FILE}, ${ENVIRONMENT_FILE}`);
});

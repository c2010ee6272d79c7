// Merges several OpenAPI 3 files whose paths do not overlap into one, so one Prism mock (one
// base URL, as the real gateway has) serves them all. No dependencies.
//
//   node merge-specs.js [--errata ERRATA.json] OUT IN.json...
//
// - Errata (optional): a list of {"file", "pointer", "add", "why", "source"}; each adds the
//   value `add` to the array at JSON pointer `pointer` of the input whose base name is
//   `file`, before merging. For a published file that lags its gateway's own reference;
//   an erratum that no longer applies (no such array, or the value is there) is an error,
//   so it is noticed and removed.
// - Paths: copied as they are; a path in two inputs is an error.
// - Components: a name defined identically in every input that has it stays; a name
//   defined differently in two inputs is renamed in each input that has it to
//   "<input file base name>_<name>", together with every local "#/components/..." pointer
//   of that input (in $ref and in discriminator mappings alike).
// - securitySchemes of one name are one scheme (operations name them, not $ref them): the
//   merged one offers the union of the inputs' OAuth2 scopes; any other difference is an error.
// Prints what it renamed, so a changed upstream file shows up in the test log.
"use strict";
const fs = require("fs");
const path = require("path");

const args = process.argv.slice(2);
let errataFile = null;
if (args[0] === "--errata") {
  errataFile = args[1];
  args.splice(0, 2);
}
const [out, ...inputs] = args;
if (!out || inputs.length === 0) {
  console.error("usage: node merge-specs.js [--errata ERRATA.json] OUT IN.json...");
  process.exit(2);
}

const specs = inputs.map((file) => ({
  base: path.basename(file).replace(/(\.prism)?\.json$/, ""),
  doc: JSON.parse(fs.readFileSync(file, "utf8")),
}));

const applied = [];
for (const erratum of errataFile ? JSON.parse(fs.readFileSync(errataFile, "utf8")) : []) {
  const spec = specs.find((s) => s.base === erratum.file);
  if (!spec) throw new Error(`erratum for ${erratum.file}: no such input`);
  const target = erratum.pointer
    .split("/")
    .slice(1)
    .map((k) => k.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((node, key) => (node == null ? undefined : node[key]), spec.doc);
  if (!Array.isArray(target)) throw new Error(`erratum ${erratum.file}#${erratum.pointer}: not an array any more`);
  if (target.includes(erratum.add))
    throw new Error(`erratum ${erratum.file}#${erratum.pointer}: already has ${erratum.add}; remove the erratum`);
  target.push(erratum.add);
  applied.push(`${erratum.file}#${erratum.pointer} += ${erratum.add}`);
}

// Component kinds whose same-named entries are compared (securitySchemes are merged below).
const kinds = new Set();
for (const { doc } of specs) for (const kind of Object.keys(doc.components || {})) kinds.add(kind);
kinds.delete("securitySchemes");

// kind -> name -> true when two inputs define it differently.
const clashes = {};
for (const kind of kinds) {
  const seen = {};
  for (const { doc } of specs) {
    for (const [name, value] of Object.entries((doc.components || {})[kind] || {})) {
      const text = JSON.stringify(value);
      if (seen[name] !== undefined && seen[name] !== text) (clashes[kind] = clashes[kind] || {})[name] = true;
      if (seen[name] === undefined) seen[name] = text;
    }
  }
}

// Rewrites "#/components/<kind>/<name>[/...]" for the clashing names of one input.
const escape = (name) => name.replace(/~/g, "~0").replace(/\//g, "~1");
function renamer(base) {
  return (pointer) => {
    const m = /^#\/components\/([^/]+)\/([^/]+)(\/.*)?$/.exec(pointer);
    if (!m) return pointer;
    const [, kind, escaped, rest] = m;
    const name = escaped.replace(/~1/g, "/").replace(/~0/g, "~");
    if (!(clashes[kind] && clashes[kind][name])) return pointer;
    return `#/components/${kind}/${escape(`${base}_${name}`)}${rest || ""}`;
  };
}

function rewrite(node, rename) {
  if (Array.isArray(node)) return node.forEach((item) => rewrite(item, rename));
  if (!node || typeof node !== "object") return;
  if (typeof node.$ref === "string") node.$ref = rename(node.$ref);
  const mapping = node.discriminator && node.discriminator.mapping;
  if (mapping && typeof mapping === "object")
    for (const key of Object.keys(mapping)) if (typeof mapping[key] === "string") mapping[key] = rename(mapping[key]);
  for (const value of Object.values(node)) rewrite(value, rename);
}

const merged = {
  openapi: specs[0].doc.openapi,
  info: {
    title: "Merged for one Prism mock: " + specs.map((s) => `${s.doc.info.title} ${s.doc.info.version}`).join(", "),
    version: specs.map((s) => s.doc.info.version).join("+"),
  },
  servers: specs[0].doc.servers,
  tags: [],
  paths: {},
  components: {},
};

const renamed = [];
for (const { base, doc } of specs) {
  rewrite(doc, renamer(base));
  for (const tag of doc.tags || []) if (!merged.tags.some((t) => t.name === tag.name)) merged.tags.push(tag);
  for (const [p, item] of Object.entries(doc.paths || {})) {
    if (merged.paths[p]) throw new Error(`${base}: path ${p} is already defined by another input`);
    merged.paths[p] = item;
  }
  for (const [kind, entries] of Object.entries(doc.components || {})) {
    if (kind === "securitySchemes") continue;
    const target = (merged.components[kind] = merged.components[kind] || {});
    for (const [name, value] of Object.entries(entries)) {
      const clash = clashes[kind] && clashes[kind][name];
      const key = clash ? `${base}_${name}` : name;
      if (clash) renamed.push(`${kind}/${key}`);
      target[key] = value;
    }
  }
}

// One scheme per name: OAuth2 flows with the same token URL merge their scopes.
const schemes = (merged.components.securitySchemes = {});
for (const { base, doc } of specs) {
  for (const [name, scheme] of Object.entries((doc.components || {}).securitySchemes || {})) {
    if (!schemes[name]) {
      schemes[name] = JSON.parse(JSON.stringify(scheme));
      continue;
    }
    const have = schemes[name];
    const flows = (s) => Object.keys(s.flows || {}).sort().join();
    if (have.type !== scheme.type || flows(have) !== flows(scheme))
      throw new Error(`${base}: security scheme ${name} differs in more than its scopes`);
    for (const [flow, spec] of Object.entries(scheme.flows || {})) {
      if (have.flows[flow].tokenUrl !== spec.tokenUrl) throw new Error(`${base}: ${name} has another token URL`);
      Object.assign(have.flows[flow].scopes, spec.scopes);
    }
  }
}

fs.writeFileSync(out, JSON.stringify(merged));
console.log(`merge-specs: ${Object.keys(merged.paths).length} paths from ${specs.length} files into ${out}`);
console.log(`merge-specs: errata applied: ${applied.length ? applied.join("; ") : "none"}`);
console.log(`merge-specs: renamed ${renamed.length}: ${renamed.join(" ")}`);

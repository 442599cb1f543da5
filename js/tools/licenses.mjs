// The package is published under "MIT OR Apache-2.0" (pkg-template/package.json, the
// workspace's Cargo.toml): both texts must travel inside the tarball, or a merchant's
// licence audit finds a package that names licences it does not carry. The repository root
// holds the one copy of each; the assembly copies them and stops when one is missing, so a
// package without them can never be packed.
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The licence files, by the SPDX id each one carries. */
export const LICENSE_FILES = { MIT: 'LICENSE-MIT', 'Apache-2.0': 'LICENSE-APACHE' };

/** A line each text must contain, so an empty or swapped file is caught too. */
const MARKERS = {
  'LICENSE-MIT': 'Permission is hereby granted, free of charge',
  'LICENSE-APACHE': 'TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION',
};

/** The problems with the licence files in `dir` for the SPDX expression `expression`. */
export function licenseProblems(dir, expression) {
  const problems = [];
  const ids = String(expression ?? '').split(/\s+OR\s+/).map((s) => s.replace(/[()]/g, '').trim());
  for (const id of ids) {
    const file = LICENSE_FILES[id];
    if (!file) {
      problems.push(`no licence file is known for "${id}" (license: ${expression})`);
      continue;
    }
    const path = join(dir, file);
    if (!existsSync(path)) problems.push(`${file} is missing from ${dir}`);
    else if (!readFileSync(path, 'utf8').includes(MARKERS[file])) problems.push(`${path} is not the ${id} licence text`);
  }
  return problems;
}

/** Copies the licence files named by `expression` from `root` into `pkg`; throws when one is missing. */
export function copyLicenses(root, pkg, expression) {
  const problems = licenseProblems(root, expression);
  if (problems.length) throw new Error(`licences: ${problems.join('; ')}`);
  for (const id of String(expression).split(/\s+OR\s+/)) {
    const file = LICENSE_FILES[id.replace(/[()]/g, '').trim()];
    cpSync(join(root, file), join(pkg, file));
  }
}

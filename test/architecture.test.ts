/**
 * The architecture, enforced:
 * - the core speaks Web APIs only: nothing outside `src/runtimes/` may import `node:*` (or a bare Node
 *   built-in), `bun`, `cloudflare:*`, or reach for the `Deno`, `Bun`, `process` or `Buffer` globals;
 * - each layer is a folder with one entry point (`index.ts`): another layer imports it only through
 *   that file, and only downward (the ranks below).
 * Tests beside the sources (`*.test.ts`) may use Node and reach into a layer.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const nodeBuiltins = new Set(builtinModules);
const forbiddenGlobals = new Set(['Deno', 'Bun', 'process', 'Buffer', 'require', '__dirname', '__filename']);

/** Why a module specifier is off limits for the core, or undefined when it is fine. */
function forbiddenModule(specifier: string): string | undefined {
  if (specifier.startsWith('node:') || nodeBuiltins.has(specifier.split('/')[0]!)) return 'Node built-in';
  if (specifier === 'bun' || specifier.startsWith('bun:')) return 'Bun module';
  if (specifier.startsWith('cloudflare:')) return 'Workers module';
  if (specifier.startsWith('jsr:') || specifier.startsWith('npm:')) return 'Deno specifier';
  return undefined;
}

/** Every runtime-specific import or global in one source file, as `line: what`. */
function runtimeReferences(fileName: string, source: string): string[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const report = (node: ts.Node, what: string) =>
    found.push(`${file.getLineAndCharacterOfPosition(node.getStart()).line + 1}: ${what}`);
  const checkSpecifier = (node: ts.Node | undefined) => {
    if (node && ts.isStringLiteralLike(node)) {
      const why = forbiddenModule(node.text);
      if (why) report(node, `${why} "${node.text}"`);
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) checkSpecifier(node.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      checkSpecifier(node.moduleReference.expression);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      checkSpecifier(node.arguments[0]);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      checkSpecifier(node.argument.literal);
    } else if (ts.isIdentifier(node) && forbiddenGlobals.has(node.text) && isGlobalReference(node)) {
      report(node, `global ${node.text}`);
    } else if (
      ts.isElementAccessExpression(node) &&
      ts.isStringLiteralLike(node.argumentExpression) &&
      forbiddenGlobals.has(node.argumentExpression.text)
    ) {
      report(node, `global ${node.argumentExpression.text}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

/** True unless the identifier is a property name, a declaration's own name or a member key. */
function isGlobalReference(node: ts.Identifier): boolean {
  const parent = node.parent;
  if (ts.isPropertyAccessExpression(parent) && parent.name === node) {
    // `globalThis.Deno` is the global all the same.
    return ts.isIdentifier(parent.expression) && parent.expression.text === 'globalThis';
  }
  if (ts.isQualifiedName(parent) && parent.right === node) return false;
  if (
    (ts.isPropertyAssignment(parent) ||
      ts.isPropertySignature(parent) ||
      ts.isPropertyDeclaration(parent) ||
      ts.isMethodDeclaration(parent) ||
      ts.isMethodSignature(parent) ||
      ts.isVariableDeclaration(parent) ||
      ts.isParameter(parent) ||
      ts.isFunctionDeclaration(parent) ||
      ts.isClassDeclaration(parent) ||
      ts.isInterfaceDeclaration(parent) ||
      ts.isTypeAliasDeclaration(parent) ||
      ts.isEnumMember(parent)) &&
    parent.name === node
  ) {
    return false;
  }
  return true;
}

function coreFiles(dir = 'src'): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (path !== join('src', 'runtimes')) out.push(...coreFiles(path));
    } else if (/\.(ts|tsx|js|mjs)$/.test(entry.name) && !/\.test\.ts$/.test(entry.name)) out.push(path);
  }
  return out;
}

describe('architecture: the core uses Web APIs only', () => {
  it('has no runtime-specific import or global outside src/runtimes/', () => {
    const files = coreFiles();
    expect(files.length).toBeGreaterThan(10);
    const violations = files.flatMap((file) =>
      runtimeReferences(file, readFileSync(file, 'utf8')).map((v) => `${file}:${v}`),
    );
    expect(violations).toEqual([]);
  });

  it('catches each kind of violation (the guard itself works)', () => {
    const source = [
      "import { readFile } from 'node:fs/promises';",
      "import path from 'path';",
      "export { serve } from 'bun';",
      "import type { DurableObject } from 'cloudflare:workers';",
      "const m = await import('node:crypto');",
      'const env = process.env;',
      'Deno.serve(() => new Response());',
      'const b = globalThis.Bun;',
      "const d = globalThis['Deno'];",
      "const buf = Buffer.from('x');",
      // Not violations: property names and local declarations that merely share a name.
      'const o = { process: 1 }; o.process; interface I { Deno: string }',
    ].join('\n');
    expect(runtimeReferences('probe.ts', source)).toEqual([
      '1: Node built-in "node:fs/promises"',
      '2: Node built-in "path"',
      '3: Bun module "bun"',
      '4: Workers module "cloudflare:workers"',
      '5: Node built-in "node:crypto"',
      '6: global process',
      '7: global Deno',
      '8: global Bun',
      '9: global Deno',
      '10: global Buffer',
    ]);
  });
});

/**
 * The layers, lowest first: a layer may import the entry point of a layer of a lower rank, never one
 * of its own rank or above. Files directly in `src/` are the application (`app.ts`, `index.ts`).
 */
const RANKS: Record<string, number> = {
  config: 0,
  urlpattern: 0,
  sse: 0,
  'room-protocol': 0,
  brokers: 1,
  client: 1,
  'brokers/redis': 2,
  'client/yjs': 2,
  hub: 2,
  signaling: 3,
  web: 3,
  '.': 4,
  runtimes: 5,
};

/** The layer of a path under `src/`: the longest layer folder that contains it. */
function layerOf(path: string): string | undefined {
  const dir = dirname(path);
  let best: string | undefined;
  for (const layer of Object.keys(RANKS)) {
    if (layer === '.' ? dir === '.' : dir === layer || dir.startsWith(`${layer}/`)) {
      if (best === undefined || best === '.' || layer.length > best.length) best = layer;
    }
  }
  return best;
}

/** Every import of `file` (a path under `src/`) that breaks the layering, as `specifier: why`. */
function layeringViolations(file: string, source: string): string[] {
  const parsed = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  const own = layerOf(file);
  const found: string[] = [];
  const check = (node: ts.Node | undefined) => {
    if (!node || !ts.isStringLiteralLike(node) || !node.text.startsWith('.')) return;
    const target = normalize(join(dirname(file), node.text));
    const layer = layerOf(target);
    if (layer === own) return;
    if (own === undefined || layer === undefined) {
      found.push(`${node.text}: outside every layer`);
      return;
    }
    if (RANKS[layer]! >= RANKS[own]!) found.push(`${node.text}: up from ${own} to ${layer}`);
    else if (layer !== '.' && target !== join(layer, 'index.ts')) {
      found.push(`${node.text}: into ${layer} past its entry point`);
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) check(node.moduleSpecifier);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      check(node.arguments[0]);
    }
    ts.forEachChild(node, visit);
  };
  visit(parsed);
  return found;
}

describe('architecture: layers and entry points', () => {
  it('imports other layers only through their entry points, and only downward', () => {
    const files = coreFiles().concat(
      readdirSync(join('src', 'runtimes'))
        .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts'))
        .map((name) => join('src', 'runtimes', name)),
    );
    const violations = files.flatMap((file) =>
      layeringViolations(relative('src', file), readFileSync(file, 'utf8')).map((v) => `${file}: ${v}`),
    );
    expect(violations).toEqual([]);
  });

  it('catches each kind of layering violation (the guard itself works)', () => {
    expect(
      layeringViolations(
        'hub/probe.ts',
        [
          "import { a } from './same-layer.ts';",
          "import { b } from '../brokers/index.ts';",
          "import { c } from '../brokers/memory.ts';",
          "import { d } from '../signaling/index.ts';",
          "export { e } from '../brokers/redis/index.ts';",
          "const f = await import('../runtimes/node.ts');",
        ].join('\n'),
      ),
    ).toEqual([
      '../brokers/memory.ts: into brokers past its entry point',
      '../signaling/index.ts: up from hub to signaling',
      '../brokers/redis/index.ts: up from hub to brokers/redis',
      '../runtimes/node.ts: up from hub to runtimes',
    ]);
  });
});

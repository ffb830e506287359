/**
 * The core speaks Web APIs only: nothing outside `src/runtimes/` may import `node:*` (or a bare Node
 * built-in), `bun`, `cloudflare:*`, or reach for the `Deno`, `Bun`, `process` or `Buffer` globals.
 * Tests beside the sources (`*.test.ts`) may use Node.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
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

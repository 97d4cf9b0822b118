/**
 * The README's code, checked so that it cannot drift from the API.
 *
 * Every ```ts block is type-checked by tsc against the built package (`npm run build` first): in
 * a scratch project under .tmp/ whose `node_modules/mikro-orm-events` links to this repository,
 * so that the import resolves through package.json's `exports` to dist/, as in a user's app. The
 * project is checked twice, with `useDefineForClassFields` true (the default from target ES2022,
 * and NestJS's) and false. How a block becomes a file:
 *
 * - A block whose first line is a `// path/to/file.ts` comment is that file of the project. A
 *   later block for a path already taken (another version of the same file) is written beside
 *   the first as `<name>.L<line>.ts`, so that its relative imports still resolve.
 * - Any other block is a snippet: a module of its own, `readme.L<line>.ts` at the project's root,
 *   where `<line>` is the README line of its opening fence. What it assumes (imports, an `em` or
 *   an `orm`) goes in a comment just before the block, invisible on the rendered page, whose code
 *   is appended to the snippet's (so that line numbers in errors are the block's own):
 *
 *       <!-- readme-check: import { Order } from './src/orders/Order'; declare const em: EntityManager; -->
 *
 * - `<!-- readme-check: skip <why> -->` just before a block leaves it unchecked. Nothing else
 *   does: the test fails on a block that is neither checked nor marked.
 * - `<!-- readme-check: mikro-orm <major> … -->` (the rest, if any, is code for the block as above)
 *   says that a block applies to that major of MikroORM only: it is checked when that major is
 *   installed, against its types (CI has a leg for each major that package.json's peer range
 *   names), and in place of any unmarked block for the same file. Directives of blocks that read
 *   the same on both majors import MikroORM's decorators from the project's `./decorators`, which
 *   re-exports them from where the installed major has them (`@mikro-orm/core` on 6,
 *   `@mikro-orm/decorators/legacy` on 7).
 *
 * Also: ```json blocks must parse, and ```sh blocks must be valid shell whose
 * `mikro-orm-events events:*` commands exist with the flags they are given. Code in another
 * language that could hold TypeScript or shell (js, tsx, bash, …) fails the test: write it as `ts`
 * or `sh`. Blocks without a language (usage synopses) and other formats are not checked.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CommandModule } from 'yargs';
import { BackfillCommand } from '../src/cli/BackfillCommand';
import { ConsumeCommand } from '../src/cli/ConsumeCommand';
import { DashboardCommand } from '../src/cli/DashboardCommand';
import { ProcessEventsCommand } from '../src/cli/ProcessEventsCommand';
import { PurgeCommand } from '../src/cli/PurgeCommand';
import { RequeueCommand } from '../src/cli/RequeueCommand';
import { StatsCommand } from '../src/cli/StatsCommand';
import { root } from './support/cli';
import { mikroOrmMajor } from './support/mikroOrmMajor';

interface Block {
  /** The README line of the opening fence, from 1. */
  line: number;
  lang: string;
  code: string;
  /** The code of a `<!-- readme-check: … -->` comment just before the block, if any. */
  check?: string;
  /** The MikroORM major that the block is for, if its comment names one. */
  major?: number;
}

const DIRECTIVE = /<!--\s*readme-check:([\s\S]*?)-->\s*$/;
const MAJOR = /^mikro-orm (\d+)\b\s*/;
const PATH_COMMENT = /^\/\/ ((?:[\w.-]+\/)*[\w.-]+\.ts)\s*$/;

/** The fenced blocks of a Markdown text, each with the directive comment before it. */
function codeBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]);
    if (!open) {
      continue;
    }
    const end = lines.findIndex((line, j) => j > i && /^```\s*$/.test(line));
    assert.ok(end > i, `README.md:${i + 1}: a code block is never closed`);
    // The directive may span lines and be followed by blank lines.
    let k = i - 1;
    while (k >= 0 && lines[k].trim() === '') {
      k--;
    }
    let check: string | undefined;
    let major: number | undefined;
    if (k >= 0 && lines[k].trimEnd().endsWith('-->')) {
      let start = k;
      while (start > 0 && !lines[start].includes('<!--')) {
        start--;
      }
      check = DIRECTIVE.exec(lines.slice(start, k + 1).join('\n'))?.[1].trim();
      const named = check === undefined ? null : MAJOR.exec(check);
      if (named) {
        major = Number(named[1]);
        check = check!.slice(named[0].length) || undefined;
      }
    }
    blocks.push({ line: i + 1, lang: open[1], code: lines.slice(i + 1, end).join('\n'), check, major });
    i = end;
  }
  return blocks;
}

/** Languages of code this test cannot check; the README must use `ts` or `sh` instead. */
const UNCHECKED_CODE = new Set([
  'js',
  'javascript',
  'mjs',
  'cjs',
  'jsx',
  'tsx',
  'mts',
  'cts',
  'bash',
  'shell',
]);

/** The MikroORM majors that package.json's peer range names (`^6.6.3 || ^7.2.1`: 6 and 7). */
const SUPPORTED_MAJORS = [
  ...(
    JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      peerDependencies: Record<string, string>;
    }
  ).peerDependencies['@mikro-orm/core'].matchAll(/\^(\d+)\./g),
].map(match => Number(match[1]));

/** Where the installed MikroORM exports its decorators. */
const DECORATORS = mikroOrmMajor >= 7 ? '@mikro-orm/decorators/legacy' : '@mikro-orm/core';

/** The `// path` of a block that is a file of the project, if it is one. */
const pathOf = (block: Block) => PATH_COMMENT.exec(block.code.split('\n')[0])?.[1];

const blocks = codeBlocks(readFileSync(join(root, 'README.md'), 'utf8'));
const tsBlocks = blocks.filter(block => block.lang === 'ts' || block.lang === 'typescript');
/** Blocks for the other major, checked on its own leg of CI. */
const otherMajor = tsBlocks.filter(block => block.major !== undefined && block.major !== mikroOrmMajor);
const skipped = tsBlocks.filter(block => !otherMajor.includes(block) && block.check?.startsWith('skip'));
/** The files that a block for the installed major holds, in place of the unmarked block's. */
const ownMajorPaths = new Set(tsBlocks.filter(block => block.major === mikroOrmMajor).map(pathOf));
/** Unmarked blocks of those files. */
const replaced = tsBlocks.filter(
  block => block.major === undefined && pathOf(block) !== undefined && ownMajorPaths.has(pathOf(block)),
);
const checked = tsBlocks.filter(
  block => !skipped.includes(block) && !otherMajor.includes(block) && !replaced.includes(block),
);

describe("the README's code", () => {
  const project = join(root, '.tmp', `readme-${process.pid}`);
  /** Project file → the README line of its block, for the failure messages. */
  const sources = new Map<string, number>();

  before(() => {
    assert.ok(
      existsSync(join(root, 'dist/index.d.ts')),
      'dist/ is missing: run `npm run build` before this test',
    );
    rmSync(project, { recursive: true, force: true });
    mkdirSync(join(project, 'node_modules'), { recursive: true });
    symlinkSync(root, join(project, 'node_modules', 'mikro-orm-events'), 'dir');
    for (const block of checked) {
      const path = pathOf(block);
      let file = path ?? `readme.L${block.line}.ts`;
      assert.ok(
        !posix.normalize(file).startsWith('..'),
        `README.md:${block.line}: ${file} leaves the project`,
      );
      if (sources.has(file)) {
        file = file.replace(/\.ts$/, `.L${block.line}.ts`);
      }
      sources.set(file, block.line);
      // The directive's code goes after the block's, so that line N of the file is line N of the block.
      const code = block.check ? `${block.code}\n${block.check}\n` : `${block.code}\n`;
      mkdirSync(dirname(join(project, file)), { recursive: true });
      writeFileSync(join(project, file), code);
    }
    // For directives: MikroORM's decorators, from where the installed major has them.
    assert.ok(
      !sources.has('decorators.ts'),
      `README.md:${sources.get('decorators.ts')}: decorators.ts is the test's`,
    );
    writeFileSync(join(project, 'decorators.ts'), `export * from '${DECORATORS}';\n`);
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify(
        {
          compilerOptions: {
            target: 'ES2022',
            // Every file is a module, and snippets may `await` at the top level.
            module: 'esnext',
            moduleDetection: 'force',
            moduleResolution: 'bundler',
            lib: ['ES2022'],
            types: ['node'],
            strict: true,
            noImplicitOverride: true,
            esModuleInterop: true,
            experimentalDecorators: true,
            emitDecoratorMetadata: true,
            skipLibCheck: true,
            noEmit: true,
          },
          include: ['**/*.ts'],
          exclude: ['node_modules'],
        },
        null,
        2,
      ),
    );
  });
  after(() => rmSync(project, { recursive: true, force: true }));

  it('checks every TypeScript block for the installed MikroORM, but those marked to skip', () => {
    assert.ok(checked.length > 0, 'no TypeScript block found in README.md');
    // Every block is checked, marked to skip, or checked on the other major's leg, and each
    // checked one became a file of its own.
    assert.equal(checked.length + skipped.length + otherMajor.length + replaced.length, tsBlocks.length);
    assert.equal(sources.size, checked.length);
    for (const block of tsBlocks.filter(b => b.major !== undefined)) {
      assert.ok(
        SUPPORTED_MAJORS.includes(block.major!),
        `README.md:${block.line}: MikroORM ${block.major} is not a major that package.json supports (${SUPPORTED_MAJORS.join(', ')})`,
      );
    }
    for (const block of blocks.filter(b => UNCHECKED_CODE.has(b.lang))) {
      assert.fail(`README.md:${block.line}: a \`${block.lang}\` block is not checked; write it as ts or sh`);
    }
    for (const block of skipped) {
      assert.match(block.check!, /^skip\s+\S/, `README.md:${block.line}: say why the block is skipped`);
    }
  });

  for (const defineFields of [true, false]) {
    it(`type-checks with useDefineForClassFields ${defineFields}`, { timeout: 120_000 }, async () => {
      const { code, output } = await tsc(project, ['--useDefineForClassFields', String(defineFields)]);
      const where = [...sources].map(([file, line]) => `  ${file} ← README.md:${line}`).join('\n');
      assert.equal(code, 0, `${output}\nThe project's files and their README blocks:\n${where}`);
    });
  }

  it('has JSON blocks that parse', () => {
    for (const block of blocks.filter(b => b.lang === 'json')) {
      assert.doesNotThrow(() => JSON.parse(block.code), `README.md:${block.line}`);
    }
  });

  it('has shell blocks that are valid and run existing commands with existing flags', () => {
    const commands = commandFlags();
    for (const block of blocks.filter(b => b.lang === 'sh')) {
      const syntax = spawnSync('bash', ['-n'], { input: block.code, encoding: 'utf8' });
      assert.equal(syntax.status, 0, `README.md:${block.line}: ${syntax.stderr}`);
      for (const [, name, rest] of block.code.matchAll(/mikro-orm-events (events:[\w-]+)([^\n#]*)/g)) {
        const flags = commands.get(name);
        assert.ok(flags, `README.md:${block.line}: no command ${name}`);
        for (const [, flag] of rest.matchAll(/(?:^|\s)--([\w-]+)/g)) {
          assert.ok(flags.has(flag), `README.md:${block.line}: ${name} has no flag --${flag}`);
        }
      }
    }
  });
});

/** Runs tsc on the project, with extra flags; resolves with its exit code and output. */
function tsc(project: string, flags: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', join(project, 'tsconfig.json'), ...flags],
      { cwd: project },
    );
    let output = '';
    child.stdout.on('data', chunk => (output += chunk));
    child.stderr.on('data', chunk => (output += chunk));
    child.on('error', reject);
    child.on('close', code => resolve({ code, output }));
  });
}

/** The `events:*` commands and the flags each accepts, read from their yargs builders. */
function commandFlags(): Map<string, Set<string>> {
  const modules: CommandModule<object, never>[] = [
    new ProcessEventsCommand(),
    new StatsCommand(),
    new RequeueCommand(),
    new PurgeCommand(),
    new DashboardCommand(),
    new BackfillCommand(),
    new ConsumeCommand(),
  ] as unknown as CommandModule<object, never>[];
  const commands = new Map<string, Set<string>>();
  for (const module of modules) {
    // Every option of the mikro-orm CLI's commands, besides each command's own.
    const flags = new Set(['config', 'contextName', 'context-name', 'help']);
    const recorder: unknown = new Proxy(
      {},
      {
        get: (_, key) =>
          key === 'option' || key === 'options'
            ? (name: string | Record<string, unknown>) => {
                for (const flag of typeof name === 'string' ? [name] : Object.keys(name)) {
                  flags.add(flag);
                }
                return recorder;
              }
            : () => recorder,
      },
    );
    (module.builder as (args: unknown) => unknown)(recorder);
    commands.set(String(module.command), flags);
  }
  return commands;
}

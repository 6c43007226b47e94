#!/usr/bin/env node
/**
 * The command-line entry: `fast-style-webgpu <command> [options]`. Dispatches to a command, turns every
 * expected failure into one `error: …` line on stderr and an exit status (2: bad command line, 1: failed).
 */
import { NoAdapterError } from '../engine/errors.js';
import { commandHelp, parseArgs, PROGRAM, UsageError, type Command } from './args.js';
import { commands } from './commands/index.js';
import { packageVersion } from './package-files.js';
import { runWithStderrRelay, stderrNeedsRelay, stopWhenRelayDies } from './stderr-relay.js';

/** The commands that open the GPU, where Dawn prints its start-up warnings (see stderr-relay.ts). */
const GPU_COMMANDS = new Set(['stylize', 'video', 'train', 'optimize', 'eval', 'flicker', 'info']);

function mainHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    `usage: ${PROGRAM} <command> [options]`,
    '',
    'Fast neural style transfer (Johnson et al. 2016) on WebGPU.',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    `Run '${PROGRAM} <command> --help' for a command's options.`,
    `  -h, --help     show this help`,
    `  -V, --version  print the version`,
    '',
  ].join('\n');
}

const isHelp = (a: string): boolean => a === '--help' || a === '-h';

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(mainHelp());
    return 2;
  }
  if (isHelp(name) || name === 'help') {
    const target = name === 'help' && rest[0] ? findCommand(rest[0]) : undefined;
    process.stdout.write(target ? commandHelp(target) : mainHelp());
    return 0;
  }
  if (name === '--version' || name === '-V') {
    console.log(packageVersion());
    return 0;
  }
  const command = findCommand(name);
  // Help wins wherever it appears (before `--`), even next to mistakes, as users expect.
  const beforeDashes = rest.indexOf('--') >= 0 ? rest.slice(0, rest.indexOf('--')) : rest;
  if (beforeDashes.some(isHelp)) {
    process.stdout.write(commandHelp(command));
    return 0;
  }
  const parsed = parseArgs(command, rest);
  if (GPU_COMMANDS.has(command.name) && stderrNeedsRelay()) return runWithStderrRelay();
  stopWhenRelayDies();
  return command.run(parsed);
}

function findCommand(name: string): Command {
  const command = commands.find((c) => c.name === name);
  if (!command) {
    const what = name.startsWith('-') ? `unknown option ${name}` : `unknown command '${name}'`;
    throw new UsageError(`${what} (commands: ${commands.map((c) => c.name).join(', ')}; see ${PROGRAM} --help)`);
  }
  return command;
}

/** Expected failures print their message alone; anything else is a bug, so its stack helps (on request). */
function report(err: unknown): number {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`error: ${message}\n`);
  if (err instanceof UsageError) return 2;
  const expected =
    err instanceof NoAdapterError ||
    (err instanceof Error && /^(ModelFileError|ImageFileError|CliError)$/.test(err.name));
  if (!expected && err instanceof Error && process.env.FAST_STYLE_DEBUG) process.stderr.write(`${err.stack}\n`);
  return 1;
}

/**
 * process.exit rather than exitCode: Dawn's handles would otherwise keep the process alive. Where pipes are
 * asynchronous (macOS), exiting at once could cut output short, so both streams are drained first.
 */
function exit(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

main(process.argv.slice(2)).then(exit, (err) => exit(report(err)));

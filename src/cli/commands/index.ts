// The CLI's commands, in the order `--help` lists them. Adding a command = its file + one line here.
import type { Command } from '../args.js';
import { convertCommand } from './convert.js';
import { evalCommand } from './eval.js';
import { exportCommand } from './export.js';
import { flickerCommand } from './flicker.js';
import { importCommand } from './import.js';
import { infoCommand } from './info.js';
import { optimizeCommand } from './optimize.js';
import { stylizeCommand } from './stylize.js';
import { trainCommand } from './train.js';
import { videoCommand } from './video.js';

export const commands: readonly Command[] = [
  stylizeCommand,
  videoCommand,
  trainCommand,
  optimizeCommand,
  evalCommand,
  flickerCommand,
  importCommand,
  exportCommand,
  convertCommand,
  infoCommand,
];

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { ML5_LICENCE_NOTE, ml5ToModelFile, parseMl5Manifest } from '../../models/ml5-checkpoint.js';
import { UsageError, type Command } from '../args.js';
import { CliError } from '../errors.js';
import { fsReason, InputSet, requireDirectory, requireOutputDirectory, writeOutputFile } from '../files.js';

const MANIFEST = 'manifest.json';

/** The bytes of a file in the checkpoint folder, or undefined where it does not exist. */
function readIfPresent(path: string): Uint8Array | undefined {
  if (!existsSync(path) || !statSync(path).isFile()) return undefined;
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new CliError(`cannot read ${path}: ${fsReason(e)}`);
  }
}

export const importCommand: Command = {
  name: 'import',
  summary: 'Convert an ml5.js style-transfer model folder (manifest.json + Variable files) into our model file.',
  usage: 'import FOLDER [-o OUT.safetensors] [--style NAME] [--source TEXT]',
  options: [
    { name: 'output', alias: 'o', type: 'string', valueName: 'PATH', description: 'model file to write (default: NAME.safetensors in the current directory)' },
    { name: 'style', alias: 's', type: 'string', valueName: 'NAME', description: "the style's name in the model's metadata (default: the folder's name)" },
    { name: 'source', type: 'string', valueName: 'TEXT', description: "where the weights come from, kept in the metadata (default: 'ml5.js style-transfer model folder NAME')" },
    { name: 'quiet', type: 'boolean', description: 'print errors only' },
  ],
  positionals: { name: 'FOLDER', min: 1, max: 1 },
  details: [
    'FOLDER is what ml5.styleTransfer(FOLDER) loads: a deeplearn.js checkpoint of lengstrom\'s',
    'fast-style-transfer net (manifest.json mapping Variable … Variable_47 to raw float32 files). The result runs',
    "with stylize --model (architecture 'ml5-lengstrom' in its metadata: TensorFlow SAME zero padding, no conv",
    "biases, transposed-conv upsampling, instance norm eps 1e-3). Its metadata notes the licence: '" + ML5_LICENCE_NOTE + "'.",
    '',
    'example:',
    '  fast-style-webgpu import ../shared/assets/stylenets/ml5-lengstrom/wave -o .models-ml5/wave.safetensors',
  ].join('\n'),

  async run(args) {
    const folder = args.positionals[0];
    requireDirectory(folder, 'ml5 model folder');
    const name = basename(resolve(folder));
    const style = args.string('style') ?? name;
    if (style === '') throw new UsageError('--style must not be empty');
    const output = args.string('output') ?? `${style}.safetensors`;
    requireOutputDirectory(output);
    // The folder's own files are the inputs: the model file must not replace one of them.
    new InputSet(readdirSync(folder).map((f) => join(folder, f))).refuse(output, 'choose another -o');
    const manifestBytes = readIfPresent(join(folder, MANIFEST));
    if (!manifestBytes) throw new CliError(`${folder}: no ${MANIFEST} (not an ml5.js / deeplearn.js checkpoint folder)`);
    const manifest = parseMl5Manifest(new TextDecoder().decode(manifestBytes), folder);
    const bytes = await ml5ToModelFile(manifest, async (filename) => readIfPresent(join(folder, filename)), {
      style,
      source: args.string('source') ?? `ml5.js style-transfer model folder ${name}`,
    });
    writeOutputFile(output, bytes);
    if (!args.flag('quiet')) process.stderr.write(`imported ${folder} (style ${style}) -> ${output} (${(bytes.length / 2 ** 20).toFixed(1)} MiB)\n`);
    return 0;
  },
};

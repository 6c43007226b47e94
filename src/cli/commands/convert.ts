import { rewriteModelFile } from '../../models/model-file.js';
import { floatToHalf, readSafetensors } from '../../models/safetensors.js';
import type { Command } from '../args.js';
import { CliError } from '../errors.js';
import { InputSet, readInputFile, requireOutputDirectory, writeOutputFile } from '../files.js';
import { assertFiniteWeights } from '../finite.js';

/** float16's infinity: a float32 that rounds to it does not fit. */
const HALF_INFINITY = 0x7c00;

/** Throws a CliError naming the model and the first weight (of a float32 model file) that float16 cannot hold. */
function assertFitsFloat16(f32Model: Uint8Array, input: string): void {
  for (const [name, t] of readSafetensors(f32Model, input).tensors) {
    const i = t.data.findIndex((v) => (floatToHalf(v) & 0x7fff) === HALF_INFINITY);
    if (i >= 0)
      throw new CliError(
        `${input}: its weight ${name} holds ${t.data[i]}, beyond float16's range (±65504): convert it with --dtype f32`,
      );
  }
}

export const convertCommand: Command = {
  name: 'convert',
  summary: 'Rewrite a model (or a training checkpoint) as a model file in float16 or float32.',
  usage: 'convert INPUT -o OUT.safetensors [--dtype f16|f32]',
  options: [
    {
      name: 'output',
      alias: 'o',
      type: 'string',
      valueName: 'PATH',
      description: "model file to write (required; never the input; '-' for standard output)",
    },
    {
      name: 'dtype',
      type: 'string',
      choices: ['f16', 'f32'],
      default: 'f16',
      description: 'precision of the weights written (f16 halves the file)',
    },
    { name: 'quiet', type: 'boolean', description: 'print errors only' },
  ],
  positionals: { name: 'INPUT', min: 1, max: 1 },
  details: [
    'INPUT is a model written by train or import, or a training checkpoint (NAME.ckpt.safetensors), whose',
    "optimiser state is dropped: the way to stylise with a run's latest state before it ends. The weights are",
    'checked as stylize checks them; the metadata (style, training config, step, training sessions, source,',
    'licence) is kept. float16 rounds each weight to 11 significant bits: check the output against the float32',
    'model before shipping it (scripts/ship-style.sh does).',
    '',
    'examples:',
    '  fast-style-webgpu convert starry.safetensors -o starry.f16.safetensors',
    '  fast-style-webgpu convert checkpoints/starry_night.ckpt.safetensors --dtype f32 -o starry_now.safetensors',
  ].join('\n'),

  async run(args) {
    const input = args.positionals[0];
    const output = args.required('output');
    requireOutputDirectory(output);
    new InputSet([input]).refuse(output, 'choose another -o');
    const source = readInputFile(input, 'model');
    // The weights as they would be written, checked before anything is: a NaN or infinity makes an unusable
    // model (named by its tensor), and a value float16 cannot hold says which --dtype can.
    const f32 = rewriteModelFile(source, input, { dtype: 'F32' });
    assertFiniteWeights(f32, input);
    const f16 = args.string('dtype') !== 'f32';
    if (f16) assertFitsFloat16(f32, input);
    const bytes = f16 ? rewriteModelFile(source, input, { dtype: 'F16' }) : f32;
    writeOutputFile(output, bytes);
    if (!args.flag('quiet'))
      process.stderr.write(
        `${input} -> ${output} (${args.string('dtype')}, ${(bytes.length / 2 ** 20).toFixed(1)} MiB)\n`,
      );
    return 0;
  },
};

import { rewriteModelFile } from '../../models/model-file.js';
import type { Command } from '../args.js';
import { InputSet, readInputFile, requireOutputDirectory, writeOutputFile } from '../files.js';

export const convertCommand: Command = {
  name: 'convert',
  summary: 'Rewrite a model (or a training checkpoint) as a model file in float16 or float32.',
  usage: 'convert INPUT -o OUT.safetensors [--dtype f16|f32]',
  options: [
    { name: 'output', alias: 'o', type: 'string', valueName: 'PATH', description: 'model file to write (required; never the input)' },
    { name: 'dtype', type: 'string', choices: ['f16', 'f32'], default: 'f16', description: 'precision of the weights written (f16 halves the file)' },
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
    const bytes = rewriteModelFile(readInputFile(input, 'model'), input, { dtype: args.string('dtype') === 'f32' ? 'F32' : 'F16' });
    writeOutputFile(output, bytes);
    if (!args.flag('quiet')) process.stderr.write(`${input} -> ${output} (${args.string('dtype')}, ${(bytes.length / 2 ** 20).toFixed(1)} MiB)\n`);
    return 0;
  },
};

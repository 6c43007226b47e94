import { existsSync, lstatSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { ML5_LICENCE_NOTE, ml5ToModelFile, parseMl5Manifest } from '../../models/ml5-checkpoint.js';
import { onnxToModelFile } from '../../models/onnx-import.js';
import { readTorchCheckpoint, type Inflate } from '../../models/pytorch-checkpoint.js';
import { torchStateDictKind, torchVggToFile, transformerNetToModelFile } from '../../models/pytorch-import.js';
import { UsageError, type Command, type ParsedArgs } from '../args.js';
import { CliError } from '../errors.js';
import {
  InputSet,
  readInputFile,
  requireDirectory,
  requireOutputDirectory,
  sameFile,
  writeOutputFile,
} from '../files.js';
import { assertFiniteWeights } from '../finite.js';
import { importedModelsDir, modelsDir, shippedStyles } from '../package-files.js';

const MANIFEST = 'manifest.json';

/**
 * The bytes of a file in the checkpoint folder, or undefined where there is no such entry. An entry that is
 * there but is no file (a folder, a device, a symlink to nothing) is an error saying so, not "missing".
 */
function readIfPresent(path: string, what: string): Uint8Array | undefined {
  try {
    lstatSync(path);
  } catch {
    return undefined;
  }
  return readInputFile(path, what);
}

/**
 * The style's name (metadata, and the default output name NAME.safetensors): a name, not a path, so that the
 * default output stays in the current folder.
 */
function styleName(args: ParsedArgs, fallback: string): string {
  const style = args.string('style') ?? fallback;
  if (style === '') throw new UsageError('--style must not be empty');
  if (/[/\\\0]/.test(style) || style === '.' || style === '..') {
    throw new UsageError(
      `--style ${JSON.stringify(style)} must be a name, not a path (it names the default output NAME.safetensors); give -o for where to write`,
    );
  }
  return style;
}

/**
 * Refuses an output that would replace a style shipped in the package's models/ folder: `--style NAME` would
 * then silently run the imported net. Imported nets go in .models-ml5/ or anywhere else.
 */
function refuseShippedModel(output: string): void {
  const dir = modelsDir();
  for (const style of shippedStyles(dir)) {
    const shipped = join(dir, `${style}.safetensors`);
    if (existsSync(output) && sameFile(output, shipped)) {
      throw new CliError(
        `refusing to replace the shipped style ${style} (${shipped}) with ${output}: choose another -o (imported nets go in ${join(dirname(dir), '.models-ml5')} or anywhere else)`,
      );
    }
  }
}

/**
 * Checks where the output goes before any work. The package's .models-ml5/ folder (where `--style NAME`
 * finds imported nets; git-ignored, so absent from a fresh clone) is created when the output is named in it.
 */
function prepareOutput(output: string): void {
  if (resolve(dirname(output)) === importedModelsDir() && !existsSync(importedModelsDir()))
    mkdirSync(importedModelsDir());
  requireOutputDirectory(output);
  refuseShippedModel(output);
}

/** Checks the imported weights before they are written: a NaN or infinity would make an unusable model. */
function checkImported(bytes: Uint8Array, path: string): void {
  assertFiniteWeights(bytes, path, 'in the file imported; nothing written');
}

/** Zip entries deflated by a zip tool (torch.save itself stores them): Node's zlib, no package needed. */
const zlibInflate: Inflate = (data, size) =>
  new Uint8Array(inflateRawSync(data, { maxOutputLength: Math.max(size, 1) }));

/** The file's name without its extension: the default style name and output name. */
function stem(path: string): string {
  const name = basename(path);
  const ext = extname(name);
  return ext ? name.slice(0, -ext.length) : name;
}

function log(args: ParsedArgs, line: string): void {
  if (!args.flag('quiet')) process.stderr.write(`${line}\n`);
}

/** A PyTorch checkpoint: a pytorch/examples TransformerNet, or a torchvision VGG16/VGG19. */
function importTorch(args: ParsedArgs, path: string): number {
  const style = styleName(args, stem(path));
  const output = args.string('output') ?? `${stem(path)}.safetensors`;
  prepareOutput(output);
  new InputSet([path]).refuse(output, 'choose another -o');
  const checkpoint = readTorchCheckpoint(readInputFile(path, 'PyTorch checkpoint'), path, zlibInflate);
  const container = checkpoint.format === 'zip' ? 'zip format' : 'legacy format';
  if (torchStateDictKind(checkpoint.tensors, path) === 'vgg') {
    if (args.given.has('style')) throw new UsageError('--style names a style net; this file is a VGG loss network');
    const vgg = torchVggToFile(checkpoint.tensors, {
      source: args.string('source') ?? `torchvision ${basename(path)} (PyTorch ${container})`,
      label: path,
    });
    checkImported(vgg.bytes, path);
    writeOutputFile(output, vgg.bytes);
    log(
      args,
      `imported ${path} (torchvision ${vgg.architecture}, ${vgg.convs[0]}..${vgg.convs[vgg.convs.length - 1]}: loss layers ${vgg.relus.join(', ')}; torchvision input) -> ${output} (use it as train --vgg ${output})`,
    );
    return 0;
  }
  const source =
    args.string('source') ??
    `PyTorch checkpoint ${basename(path)} (pytorch/examples fast_neural_style TransformerNet state dict, ${container})`;
  const licence = args.string('licence');
  const { bytes, widthMultiplier } = transformerNetToModelFile(checkpoint.tensors, {
    style,
    source,
    label: path,
    ...(licence !== undefined ? { licence } : {}),
  });
  checkImported(bytes, path);
  writeOutputFile(output, bytes);
  log(
    args,
    `imported ${path} (TransformerNet width ${widthMultiplier}, linear output; style ${style}) -> ${output} (${(bytes.length / 2 ** 20).toFixed(1)} MiB)`,
  );
  return 0;
}

/** An ONNX TransformerNet graph (the model zoo's fast_neural_style, torch.onnx.export, our export). */
function importOnnx(args: ParsedArgs, path: string): number {
  const style = styleName(args, stem(path));
  const output = args.string('output') ?? `${stem(path)}.safetensors`;
  prepareOutput(output);
  const inputs = new InputSet([path]);
  inputs.refuse(output, 'choose another -o');
  const bytes = readInputFile(path, 'ONNX model');
  const licence = args.string('licence');
  const externals: string[] = [];
  const result = onnxToModelFile(bytes, {
    source: args.string('source') ?? `ONNX model ${basename(path)}`,
    style,
    label: path,
    ...(licence !== undefined ? { licence } : {}),
    readExternal: (location) => {
      const file = join(dirname(path), location);
      externals.push(file);
      return readIfPresent(file, 'ONNX external data');
    },
  });
  checkImported(result.bytes, path);
  for (const file of externals) new InputSet([file]).refuse(output, 'choose another -o');
  writeOutputFile(output, result.bytes);
  log(
    args,
    `imported ${path} (ONNX opset ${result.opset} from ${result.producer || 'an unnamed producer'}: TransformerNet width ${result.widthMultiplier}, ${result.output} output; style ${style}) -> ${output} (${(result.bytes.length / 2 ** 20).toFixed(1)} MiB)`,
  );
  return 0;
}

export const importCommand: Command = {
  name: 'import',
  summary:
    'Convert a PyTorch .pth (pytorch/examples TransformerNet, torchvision VGG), an ONNX TransformerNet or an ml5.js model folder into our files.',
  usage: 'import FILE.pth|FILE.onnx|FOLDER [-o OUT.safetensors] [--style NAME] [--source TEXT] [--licence TEXT]',
  options: [
    {
      name: 'output',
      alias: 'o',
      type: 'string',
      valueName: 'PATH',
      description: 'model file to write (default: NAME.safetensors in the current directory)',
    },
    {
      name: 'style',
      alias: 's',
      type: 'string',
      valueName: 'NAME',
      description: "the style's name in the model's metadata (default: the folder's name)",
    },
    {
      name: 'source',
      type: 'string',
      valueName: 'TEXT',
      description:
        "where the weights come from, kept in the metadata (default: 'ml5.js style-transfer model folder NAME')",
    },
    {
      name: 'licence',
      type: 'string',
      valueName: 'TEXT',
      description: "the weights' licence, kept in the metadata (a .pth carries none; ml5 folders get theirs)",
    },
    { name: 'quiet', type: 'boolean', description: 'print errors only' },
  ],
  positionals: { name: 'FILE|FOLDER', min: 1, max: 1 },
  details: [
    'FILE.pth is a PyTorch checkpoint as torch.save writes it: the zip format (PyTorch >= 1.6) or the legacy',
    'pickle format (older files). Only a state dict is read (OrderedDict, tensors, float32/float16 storages);',
    'anything else in the pickle (a call to os.system, say) is refused and nothing from the file is run.',
    '- pytorch/examples fast_neural_style TransformerNet (candy.pth, mosaic.pth, …): becomes a johnson2016 net',
    "  with the 'linear' output (that net has no tanh; pixels 0..255), at the width its conv1 says; the old",
    '  InstanceNorm running_mean/running_var keys are dropped. Run it with stylize --model.',
    '- torchvision vgg16/vgg19 (vgg16-397923af.pth, vgg19-dcbb9e9d.pth, from ~/.cache/torch/hub/checkpoints):',
    "  becomes a VGG weight file (features only, torchvision's input convention) for train --vgg; the",
    '  layers it provides are printed and kept in its metadata. train --vgg also reads the .pth directly.',
    '',
    "FILE.onnx is a TransformerNet graph: the ONNX model zoo's fast_neural_style nets (opset 8/9, Upsample),",
    "torch.onnx.export of pytorch/examples' net at any opset (Resize, and the shape arithmetic it emits), or",
    "our own export. The graph is matched against that net's pattern (Pad reflect, Conv, InstanceNormalization,",
    'Relu, Add, Upsample/Resize nearest x2) and its weights taken over; it is not a general ONNX runtime: any',
    'other graph gets one line naming the first operator or structure that does not fit. Tensors kept in',
    'external data files are read from beside the .onnx.',
    '',
    "FOLDER is what ml5.styleTransfer(FOLDER) loads: a deeplearn.js checkpoint of lengstrom's",
    'fast-style-transfer net (manifest.json mapping Variable … Variable_47 to raw float32 files). The result runs',
    "with stylize --model (architecture 'ml5-lengstrom' in its metadata: TensorFlow SAME zero padding, no conv",
    "biases, transposed-conv upsampling, instance norm eps 1e-3). Its metadata notes the licence: '" +
      ML5_LICENCE_NOTE +
      "'.",
    '',
    'examples:',
    '  fast-style-webgpu import candy.pth -o candy.safetensors --licence "BSD-3-Clause (pytorch/examples)"',
    '  fast-style-webgpu import ~/.cache/torch/hub/checkpoints/vgg16-397923af.pth -o vgg16.safetensors',
    '  fast-style-webgpu import mosaic-9.onnx -o mosaic.safetensors',
    '  fast-style-webgpu import ../shared/assets/stylenets/ml5-lengstrom/wave -o .models-ml5/wave.safetensors',
  ].join('\n'),

  async run(args) {
    const folder = args.positionals[0];
    if (existsSync(folder) && statSync(folder).isFile())
      return /\.onnx$/i.test(folder) ? importOnnx(args, folder) : importTorch(args, folder);
    requireDirectory(folder, 'ml5 model folder');
    const name = basename(resolve(folder));
    const style = styleName(args, name);
    const output = args.string('output') ?? `${style}.safetensors`;
    prepareOutput(output);
    // The folder's own files are the inputs: the model file must not replace one of them.
    new InputSet(readdirSync(folder).map((f) => join(folder, f))).refuse(output, 'choose another -o');
    const manifestBytes = readIfPresent(join(folder, MANIFEST), 'ml5 manifest');
    if (!manifestBytes)
      throw new CliError(`${folder}: no ${MANIFEST} (not an ml5.js / deeplearn.js checkpoint folder)`);
    const manifest = parseMl5Manifest(new TextDecoder().decode(manifestBytes), folder);
    const bytes = await ml5ToModelFile(
      manifest,
      async (filename) => readIfPresent(join(folder, filename), 'ml5 variable file'),
      {
        style,
        source: args.string('source') ?? `ml5.js style-transfer model folder ${name}`,
        label: folder,
      },
    );
    checkImported(bytes, folder);
    writeOutputFile(output, bytes);
    if (!args.flag('quiet'))
      process.stderr.write(
        `imported ${folder} (style ${style}) -> ${output} (${(bytes.length / 2 ** 20).toFixed(1)} MiB)\n`,
      );
    return 0;
  },
};

import { decodeMetadata, rewriteModelFile } from '../../models/model-file.js';
import {
  ONNX_DEFAULT_OPSET,
  ONNX_INPUT,
  ONNX_MAX_OPSET,
  ONNX_MIN_OPSET,
  ONNX_OUTPUT,
  transformNetToOnnx,
} from '../../models/onnx-export.js';
import { readSafetensors } from '../../models/safetensors.js';
import { UsageError, type Command } from '../args.js';
import { InputSet, readInputFile, requireOutputDirectory, writeOutputFile } from '../files.js';

export const exportCommand: Command = {
  name: 'export',
  summary: 'Write a model as an ONNX graph (onnxruntime, OpenCV dnn, other runtimes).',
  usage: 'export MODEL -o OUT.onnx [--opset N]',
  options: [
    {
      name: 'output',
      alias: 'o',
      type: 'string',
      valueName: 'PATH',
      description: 'ONNX file to write (required; never the input)',
    },
    {
      name: 'opset',
      type: 'number',
      integer: true,
      min: ONNX_MIN_OPSET,
      max: ONNX_MAX_OPSET,
      default: ONNX_DEFAULT_OPSET,
      description: `ONNX opset (${ONNX_MIN_OPSET}: Upsample, as the ONNX model zoo's fast_neural_style; 10 and up: Resize)`,
    },
    { name: 'quiet', type: 'boolean', description: 'print errors only' },
  ],
  positionals: { name: 'MODEL', min: 1, max: 1 },
  details: [
    'MODEL is a model of either architecture (johnson2016, ml5-lengstrom), as train, import or convert write it,',
    'or a training checkpoint. The graph has plain operators only (Pad, Conv, ConvTranspose,',
    'InstanceNormalization, Relu, Add, Upsample/Resize nearest, Tanh, Mul) and symbolic batch, height and width:',
    `  input  '${ONNX_INPUT}'  float32 [N, 3, H, W], RGB pixels 0..255 (no mean, no std)`,
    `  output '${ONNX_OUTPUT}' float32 [N, 3, H, W], RGB pixels; clamp to 0..255`,
    'H and W must be multiples of 4 and at least 8: reflect-pad a photo up to that and crop the result back',
    "(what stylize does). The model's style, source and licence are kept in the graph's metadata_props, with",
    'these conventions.',
    '',
    'examples:',
    '  fast-style-webgpu export models/starry_night.safetensors -o starry_night.onnx',
    '  fast-style-webgpu export candy.safetensors -o candy-opset9.onnx --opset 9',
  ].join('\n'),

  async run(args) {
    const input = args.positionals[0];
    const output = args.required('output');
    if (!/\.onnx$/i.test(output) && output !== '/dev/null' && output !== '/dev/stdout')
      throw new UsageError(`-o ${output}: name the ONNX file *.onnx`);
    requireOutputDirectory(output);
    new InputSet([input]).refuse(output, 'choose another -o');
    // The model read and checked as convert reads it (a checkpoint's optimiser state dropped), in float32.
    const file = readSafetensors(rewriteModelFile(readInputFile(input, 'model'), input, { dtype: 'F32' }), input);
    const metadata = decodeMetadata(file.metadata, input);
    const weights = new Map([...file.tensors].map(([k, t]) => [k, t.data]));
    const opset = args.number('opset')!;
    const bytes = transformNetToOnnx(metadata, weights, { opset });
    writeOutputFile(output, bytes);
    if (!args.flag('quiet')) {
      process.stderr.write(
        `${input} -> ${output} (ONNX opset ${opset}, ${metadata.architecture.name} width ${metadata.architecture.widthMultiplier}, ${(bytes.length / 2 ** 20).toFixed(1)} MiB; H and W multiples of 4)\n`,
      );
    }
    return 0;
  },
};

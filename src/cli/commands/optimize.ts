import { createNodeEngine } from '../../engine/node.js';
import { tensorToRgba } from '../../ops/image.js';
import { optimizeImage, type GatysInit, type GatysOptimizer } from '../../models/gatys.js';
import type { VggArchitecture, VggInput } from '../../models/vgg.js';
import { UsageError, type Command, type ParsedArgs } from '../args.js';
import { InputSet, requireOutputDirectory, writeOutputFile } from '../files.js';
import { encodeImage, formatFromPath, resizeToEdge } from '../../node/image-io.js';
import {
  buildStyleLoss,
  checkImageSide,
  checkStyleImage,
  imageTensor,
  lossSettings,
  lossWeightOptions,
  readImageFile,
  readVggFile,
  vggOptions,
  vggPath,
} from '../loss-network.js';
import { formatDuration, progressReporter } from '../progress.js';

export const optimizeCommand: Command = {
  name: 'optimize',
  summary: 'Stylise one photo the slow original way: optimise its pixels (Gatys et al.) with L-BFGS or Adam.',
  usage: 'optimize --content IMG --style IMG -o OUT [options]',
  options: [
    {
      name: 'content',
      alias: 'c',
      type: 'string',
      valueName: 'IMG',
      description: 'the photo (any image file stylize reads)',
    },
    {
      name: 'style',
      alias: 's',
      type: 'string',
      valueName: 'IMG',
      description: 'the style image (any image file stylize reads)',
    },
    { name: 'output', alias: 'o', type: 'string', valueName: 'OUT', description: 'image to write (.png, .jpg)' },
    {
      name: 'iters',
      type: 'number',
      integer: true,
      min: 1,
      max: 100000,
      default: 500,
      description: 'L-BFGS iterations (at most 1.25× + 25 evaluations) or Adam steps',
    },
    {
      name: 'size',
      type: 'number',
      integer: true,
      min: 16,
      max: 4096,
      default: 256,
      description: 'long side of the output, pixels (the photo is resized to it)',
    },
    {
      name: 'style-size',
      type: 'number',
      integer: true,
      min: 16,
      max: 4096,
      description: 'long side of the style image, pixels (default: --size)',
    },
    ...lossWeightOptions,
    {
      name: 'optimizer',
      type: 'string',
      choices: ['lbfgs', 'adam'],
      default: 'lbfgs',
      description: 'optimiser of the pixels',
    },
    {
      name: 'lr',
      type: 'number',
      min: 1e-9,
      max: 1e6,
      description: 'learning rate in 0..255 pixel units (default: 1 for L-BFGS, 10 for Adam)',
    },
    {
      name: 'init',
      type: 'string',
      choices: ['content', 'noise'],
      default: 'content',
      description: 'start from the photo or from white noise (seeded)',
    },
    {
      name: 'history',
      type: 'number',
      integer: true,
      min: 1,
      max: 1000,
      default: 100,
      description: 'L-BFGS history size (pairs kept)',
    },
    {
      name: 'seed',
      type: 'number',
      integer: true,
      min: 0,
      max: 2 ** 31 - 1,
      default: 1,
      description: 'seed of the noise initialisation',
    },
    ...vggOptions,
    {
      name: 'quality',
      alias: 'q',
      type: 'number',
      integer: true,
      min: 1,
      max: 100,
      default: 92,
      valueName: 'Q',
      description: 'JPEG quality',
    },
    { name: 'quiet', type: 'boolean', description: 'print errors only' },
  ],
  details: [
    'Minimises the same loss a transform net is trained on (content + style + TV on the VGG) over the pixels of',
    'one image, in 0..255 units; the result is clamped to 0..255. Default weights: cw 1, sw 0.3, tvw 0 (the',
    'setting that worked for Gatys at 256 px with the shared VGG19). Slow: every iteration is a forward and',
    'backward pass through the VGG. Ctrl-C stops without writing anything.',
    '',
    'example:',
    '  fast-style-webgpu optimize --content photo.jpg --style starry_night.jpg -o photo_gatys.png --iters 300',
  ].join('\n'),

  async run(args: ParsedArgs): Promise<number> {
    const contentPath = args.required('content', 'IMG');
    const stylePath = args.required('style', 'IMG');
    const output = args.required('output', 'OUT');
    const format = formatFromPath(output);
    if (format === null)
      throw new UsageError(`cannot tell the image format of ${output}: name it .png, .jpg, .jpeg, .webp or .avif`);
    const optimizer = args.string('optimizer') as GatysOptimizer;
    if (args.given.has('history') && optimizer !== 'lbfgs')
      throw new UsageError('--history applies to --optimizer lbfgs only');
    const vggFilePath = vggPath(args, 'optimize');
    requireOutputDirectory(output);
    new InputSet([contentPath, stylePath, vggFilePath]).refuse(output, 'choose another --output');
    const quiet = args.flag('quiet');
    const log = (line: string): void => {
      if (!quiet) process.stderr.write(line + '\n');
    };

    const vggFile = readVggFile(
      vggFilePath,
      args.string('vgg-arch') as VggArchitecture | 'auto',
      args.string('vgg-input') as VggInput | 'auto',
    );
    const config = lossSettings(args, vggFile);
    const content = await resizeToEdge(await readImageFile(contentPath, 'content image'), args.number('size')!);
    const styleImage = await readImageFile(stylePath, 'style image');
    const styleEdge = args.number('style-size') ?? args.number('size')!;
    checkImageSide(content, config, vggFile.architecture, `content image ${contentPath}`);
    checkStyleImage(styleImage, styleEdge, config, vggFile.architecture, stylePath);
    const iters = args.number('iters')!;

    const engine = await createNodeEngine({ quietDawnStartup: true });
    try {
      if (engine.adapter.isFallbackAdapter)
        log(`warning: ${engine.describe()} is a software adapter; optimising will be slow`);
      const { vgg, loss } = await buildStyleLoss(engine, vggFile, config, styleImage, styleEdge);
      const contentTensor = await imageTensor(engine, content, Math.max(content.width, content.height));
      log(
        `optimizing ${content.width}×${content.height} pixels with ${optimizer}, ${iters} iterations, ${vggFile.architecture} (${vggFile.input}) ` +
          `content ${config.contentLayer} style ${config.styleLayers.join(',')}, weights ${config.contentWeight}/${config.styleWeight}/${config.tvWeight}, on ${engine.describe()}`,
      );
      const started = performance.now();
      const result = await optimizeImage(loss, contentTensor, {
        iterations: iters,
        optimizer,
        lr: args.number('lr'),
        init: args.string('init') as GatysInit,
        seed: args.number('seed'),
        historySize: args.number('history'),
        onProgress: quiet ? undefined : progressReporter(process.stderr.isTTY === true, log),
      });
      const rgba = await tensorToRgba(result.image);
      result.image.dispose();
      const out = new Uint8Array(rgba.buffer, rgba.byteOffset, rgba.byteLength);
      // The photo's alpha is kept (PNG).
      for (let i = 3; i < out.length; i += 4) out[i] = content.data[i];
      writeOutputFile(
        output,
        await encodeImage({ width: content.width, height: content.height, data: out }, format, args.number('quality')),
      );
      const l = result.losses;
      log(
        `wrote ${output} (${content.width}×${content.height}, ${result.iterations} iterations, ${result.evaluations} evaluations, ` +
          `${formatDuration((performance.now() - started) / 1000)}${result.stop !== 'max-iter' ? `, stopped: ${result.stop}` : ''}); ` +
          `content ${l.content.toExponential(3)} style ${l.style.toExponential(3)} tv ${l.tv.toExponential(3)} total ${l.total.toExponential(3)}`,
      );
      loss.dispose();
      vgg.dispose();
      return 0;
    } finally {
      engine.destroy();
    }
  },
};

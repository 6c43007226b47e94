import { createNodeEngine } from '../../engine/node.js';
import { evaluateLosses } from '../../models/gatys.js';
import type { LossConfig } from '../../models/losses.js';
import { measureTemporalError, pannedClipSize, type TemporalResult } from '../../models/temporal.js';
import { rgbaToTensor } from '../../ops/image.js';
import { UsageError, type Command, type ParsedArgs } from '../args.js';
import { CliError } from '../errors.js';
import { loadCheckedNet } from '../finite.js';
import { InputSet, readInputFile, requireOutputDirectory, writeOutputFile } from '../files.js';
import { encodeImage, resizeToEdge } from '../../node/image-io.js';
import type { RgbaImage } from '../../models/rgba-image.js';
import type { Engine } from '../../engine/engine.js';
import {
  buildStyleLoss,
  checkImageSide,
  checkStyleImage,
  lossSettings,
  readImageFile,
  readVggFile,
  vggOptions,
  vggPath,
  type VggFile,
} from '../loss-network.js';
import type { VggArchitecture, VggInput } from '../../models/vgg.js';
import { chooseModel } from './stylize.js';

/** Pixels between frames in the strip (white). */
const GAP = 2;

/** The clip's frames in a row over the net's frames in a row: what flicker looks like, side by side. */
function strip(rows: readonly (readonly RgbaImage<Uint8Array>[])[]): RgbaImage {
  const { width: w, height: h } = rows[0][0];
  const n = rows[0].length;
  const width = n * w + (n - 1) * GAP;
  const height = rows.length * h + (rows.length - 1) * GAP;
  const data = new Uint8Array(width * height * 4).fill(255);
  rows.forEach((row, r) =>
    row.forEach((f, i) => {
      for (let y = 0; y < h; y++)
        data.set(f.data.subarray(y * w * 4, (y + 1) * w * 4), ((r * (h + GAP) + y) * width + i * (w + GAP)) * 4);
    }),
  );
  return { width, height, data };
}

/** The middle `width`×`height` of an image (or all of it along a side that is shorter). */
function centreCrop(img: RgbaImage, width: number, height: number): RgbaImage {
  const w = Math.min(width, img.width);
  const h = Math.min(height, img.height);
  if (w === img.width && h === img.height) return img;
  const x0 = Math.floor((img.width - w) / 2);
  const y0 = Math.floor((img.height - h) / 2);
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++)
    data.set(img.data.subarray(((y0 + y) * img.width + x0) * 4, ((y0 + y) * img.width + x0 + w) * 4), y * w * 4);
  return { width: w, height: h, data };
}

function parsePan(args: ParsedArgs): [number, number] {
  const items = args.list('pan').map(Number);
  const pan: [number, number] = [items[0], items[1] ?? 0];
  if (items.length > 2 || !pan.every((v) => Number.isInteger(v) && v >= 0 && v <= 64) || pan[0] + pan[1] === 0) {
    throw new UsageError(
      `--pan expects DX or DX,DY: whole pixels per frame, 0..64, not both 0; got '${args.list('pan').join(',')}'`,
    );
  }
  return pan;
}

/**
 * The photo at the size that leaves frames whose longer side is `size` after the window's travel (resized,
 * then cropped about its centre to exactly that much room); refused when the frames would be under 4 pixels.
 */
async function pannedSource(
  photo: RgbaImage,
  photoPath: string,
  size: number,
  frames: number,
  pan: [number, number],
): Promise<RgbaImage> {
  const travel = Math.max((frames - 1) * pan[0], (frames - 1) * pan[1]);
  const source = centreCrop(
    await resizeToEdge(photo, size + travel),
    size + (frames - 1) * pan[0],
    size + (frames - 1) * pan[1],
  );
  const clipSize = pannedClipSize(source, { frames, pan });
  if (clipSize.width < 4 || clipSize.height < 4)
    throw new CliError(
      `photo ${photoPath}: too small for ${frames} frames panned (${pan.join(', ')}) pixels at --size ${size}`,
    );
  return source;
}

/** --style-image: the style loss of the stylised frames, their mean as the line printed. */
async function styleLossLine(
  engine: Engine,
  args: ParsedArgs,
  vggFile: VggFile,
  styleImage: RgbaImage,
  styleImagePath: string,
  training: { loss?: LossConfig; styleSize?: number } | undefined,
  result: TemporalResult,
  clipSize: { width: number; height: number },
): Promise<string> {
  const frames = result.frames.length;
  const config = lossSettings(args, vggFile, training?.loss);
  const styleEdge = args.number('style-size') ?? training?.styleSize ?? 256;
  checkStyleImage(styleImage, styleEdge, config, vggFile.architecture, styleImagePath);
  checkImageSide(clipSize, config, vggFile.architecture, `a ${clipSize.width}×${clipSize.height} frame`);
  const { vgg, loss } = await buildStyleLoss(engine, vggFile, config, styleImage, styleEdge);
  let styleSum = 0;
  for (let t = 0; t < frames; t++) {
    const losses = await engine.scopeAsync(async () => {
      const image = rgbaToTensor(engine, result.stylised[t].data, clipSize.width, clipSize.height);
      const content = rgbaToTensor(engine, result.frames[t].data, clipSize.width, clipSize.height);
      return evaluateLosses(loss, image, content);
    });
    styleSum += losses.style;
  }
  loss.dispose();
  vgg.dispose();
  return `style loss ${(styleSum / frames).toExponential(3)} (mean over the frames; ${styleImagePath} at ${styleEdge} px, layers ${config.styleLayers.join(',')})`;
}

export const flickerCommand: Command = {
  name: 'flicker',
  summary:
    "Measure a net's flicker: the temporal error of its output on a panned, noisy clip of a photo (with its style loss).",
  usage: 'flicker (--model MODEL | --style NAME) --photo IMG [--style-image IMG] [options]',
  options: [
    {
      name: 'model',
      alias: 'm',
      type: 'string',
      valueName: 'PATH',
      description: 'model file (.safetensors) written by train',
    },
    {
      name: 'style',
      alias: 's',
      type: 'string',
      valueName: 'NAME',
      description: "a style in the package models/ folder (see 'stylize --list-styles')",
    },
    {
      name: 'photo',
      alias: 'p',
      type: 'string',
      valueName: 'IMG',
      description: 'the photo the clip pans over (any image file stylize reads)',
    },
    {
      name: 'size',
      type: 'number',
      integer: true,
      min: 16,
      max: 4096,
      default: 128,
      description: "the clip's longer side, pixels",
    },
    { name: 'frames', type: 'number', integer: true, min: 2, max: 1000, default: 6, description: 'frames in the clip' },
    {
      name: 'pan',
      type: 'list',
      valueName: 'DX[,DY]',
      default: ['1', '0'],
      description: 'whole pixels the picture moves per frame',
    },
    {
      name: 'noise',
      type: 'number',
      min: 0,
      max: 64,
      default: 2,
      valueName: 'SIGMA',
      description: 'Gaussian noise added to each frame, standard deviation in 0..255 levels (sensor noise)',
    },
    {
      name: 'seed',
      type: 'number',
      integer: true,
      min: 0,
      max: 2 ** 31 - 1,
      default: 1,
      description: 'seed of the noise',
    },
    { name: 'preserve-colors', type: 'boolean', description: "keep each frame's colours (as stylize and video do)" },
    {
      name: 'strength',
      type: 'number',
      min: 0,
      max: 1,
      default: 1,
      valueName: 'S',
      description: 'blend with the frame (as stylize and video do)',
    },
    {
      name: 'style-image',
      type: 'string',
      valueName: 'IMG',
      description: 'the style image the net was trained on: also report the style loss of its frames',
    },
    {
      name: 'style-size',
      type: 'number',
      integer: true,
      min: 16,
      max: 4096,
      description: "long side of the style image (default: the model's training setting, else 256)",
    },
    ...vggOptions,
    {
      name: 'strip',
      type: 'string',
      valueName: 'PATH',
      description: "write the clip's frames over the net's frames as one PNG",
    },
    { name: 'quiet', type: 'boolean', description: 'print the result only' },
  ],
  details: [
    "The clip: the photo (resized so that each frame's longer side is --size) seen through a window that moves",
    '--pan pixels per frame, with fresh noise on every frame. A net whose strokes move with the picture gives',
    'frames that are shifted copies of each other; the temporal error is mean |S(t+1) − shift(S(t))| over the',
    'pixels two consecutive frames share, in 0..255 levels averaged over RGB and the pairs (0 = perfectly',
    "stable). The input clip's own error is printed beside it: the noise alone (≈ 1.13 σ). With --style-image,",
    "the mean style loss of the net's frames (the training loss's style term, the model's own loss settings)",
    'shows how strong the style is at that stability.',
    '',
    'example:',
    '  fast-style-webgpu flicker --style starry_night --photo kodim23.png --style-image starry_night.jpg --size 128',
  ].join('\n'),

  async run(args) {
    const photoPath = args.required('photo', 'IMG');
    const model = chooseModel(args, 'flicker');
    const pan = parsePan(args);
    const frames = args.number('frames')!;
    const size = args.number('size')!;
    const stripPath = args.string('strip');
    const styleImagePath = args.string('style-image');
    const quiet = args.flag('quiet');
    const log = (line: string): void => {
      if (!quiet) process.stderr.write(line + '\n');
    };
    if (stripPath !== undefined) {
      requireOutputDirectory(stripPath);
      new InputSet([photoPath, model.path, ...(styleImagePath ? [styleImagePath] : [])]).refuse(
        stripPath,
        'choose another --strip',
      );
    }
    if (args.given.has('style-size') && styleImagePath === undefined)
      throw new UsageError('--style-size needs --style-image');
    const vggFile =
      styleImagePath !== undefined
        ? readVggFile(
            vggPath(args, 'flicker'),
            args.string('vgg-arch') as VggArchitecture | 'auto',
            args.string('vgg-input') as VggInput | 'auto',
          )
        : null;
    const styleImage = styleImagePath !== undefined ? await readImageFile(styleImagePath, 'style image') : null;
    const photo = await readImageFile(photoPath, 'photo');
    const modelBytes = readInputFile(model.path, 'model');
    const source = await pannedSource(photo, photoPath, size, frames, pan);
    const clipSize = pannedClipSize(source, { frames, pan });

    const engine = await createNodeEngine({ quietDawnStartup: true });
    try {
      const { net, metadata } = await loadCheckedNet(engine, modelBytes, model.path);
      log(
        `${model.styleName}: ${frames} frames of ${clipSize.width}×${clipSize.height} panned (${pan.join(', ')}) px per frame, noise σ ${args.number('noise')}, on ${engine.describe()}`,
      );
      const result = await measureTemporalError(
        net,
        source,
        { frames, pan, noise: args.number('noise')!, seed: args.number('seed')! },
        { preserveColors: args.flag('preserve-colors'), strength: args.number('strength') },
      );
      await net.check();
      net.dispose();
      const lines = [
        `temporal error ${result.net.toFixed(3)} levels (input clip ${result.input.toFixed(3)}: the noise alone; 0 = perfectly stable; pairs ${result.pairs.map((p) => p.toFixed(2)).join(' ')})`,
      ];

      if (vggFile !== null && styleImage !== null) {
        const training = metadata.training as { loss?: LossConfig; styleSize?: number } | undefined;
        lines.push(await styleLossLine(engine, args, vggFile, styleImage, styleImagePath!, training, result, clipSize));
      }
      if (stripPath !== undefined) {
        writeOutputFile(stripPath, await encodeImage(strip([result.frames, result.stylised]), 'png'));
        log(`wrote ${stripPath}`);
      }
      process.stdout.write(lines.join('\n') + '\n');
      return 0;
    } finally {
      engine.destroy();
    }
  },
};

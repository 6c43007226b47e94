/**
 * The options of `train`, each declared once: its spec for the parser and help, how its value is read into
 * TrainOptions, and, for a setting a resumed run keeps, where the checkpoint records it. TrainOptions, the
 * option table, the mapping from the command line and the resume check are all derived from TRAIN_OPTIONS.
 */
import { availableParallelism } from 'node:os';
import type { TrainConfig } from '../../models/checkpoint.js';
import { CROP_SCALES } from '../../models/sample-order.js';
import type { VggArchitecture, VggInput } from '../../models/vgg.js';
import { UsageError, type OptionSpec, type ParsedArgs } from '../args.js';
import { vggOptions, vggPath } from '../loss-network.js';

/** One option: its spec (the name comes from its key in TRAIN_OPTIONS) and how its value is read. */
interface TrainOption<T> {
  spec: Omit<OptionSpec, 'name'>;
  read(args: ParsedArgs, name: string): T;
  /**
   * A setting the run keeps when resumed: the value the checkpoint's config records, compared (as JSON) with
   * the option's when the option is given.
   */
  resumed?(config: TrainConfig): unknown;
}

type Spec = Omit<OptionSpec, 'name' | 'type' | 'default'>;
type Resume = Pick<TrainOption<unknown>, 'resumed'>;

/** A string the command cannot run without. */
const requiredString = (spec: Spec): TrainOption<string> => ({
  spec: { type: 'string', ...spec },
  read: (args, name) => args.required(name),
});

const optionalString = (spec: Spec, resume: Resume = {}): TrainOption<string | undefined> => ({
  spec: { type: 'string', ...spec },
  read: (args, name) => args.string(name),
  ...resume,
});

/** A number with a default: always set. */
const number = (spec: Spec & { default: number }, resume: Resume = {}): TrainOption<number> => ({
  spec: { type: 'number', ...spec },
  read: (args, name) => args.number(name)!,
  ...resume,
});

/** A number without a default: undefined unless given. */
const optionalNumber = (spec: Spec, resume: Resume = {}): TrainOption<number | undefined> => ({
  spec: { type: 'number', ...spec },
  read: (args, name) => (args.given.has(name) ? args.number(name) : undefined),
  ...resume,
});

/** One of `choices` (a string option), its type the union of them. */
const choice = <C extends string>(
  choices: readonly C[],
  spec: Omit<Spec, 'choices'> & { default: C },
  resume: Resume = {},
): TrainOption<C> => ({
  spec: { type: 'string', choices: [...choices], ...spec },
  read: (args, name) => args.string(name) as C,
  ...resume,
});

const flag = (spec: Spec): TrainOption<boolean> => ({
  spec: { type: 'boolean', ...spec },
  read: (args, name) => args.flag(name),
});

/** A list, undefined unless given. */
const optionalList = (spec: Spec, resume: Resume = {}): TrainOption<string[] | undefined> => ({
  spec: { type: 'list', ...spec },
  read: (args, name) => (args.given.has(name) ? args.list(name) : undefined),
  ...resume,
});

/** One of the loss network's options shared with the other commands (loss-network.ts), as declared there. */
function vggSpec(name: string): Omit<OptionSpec, 'name'> {
  const { name: _, ...spec } = vggOptions.find((o) => o.name === name)!;
  return spec;
}

/** Option names are the keys in kebab case: `checkpointEvery` is --checkpoint-every. */
function optionName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Every option of `train`, in the order of its help. */
const TRAIN_OPTIONS = {
  style: requiredString({ valueName: 'IMG', description: 'style image (any image file stylize reads)' }),
  data: requiredString({
    valueName: 'DIR',
    description: 'folder of training photos, searched recursively for images (JPEG, PNG, WebP, AVIF, HEIF, TIFF, GIF)',
  }),
  out: requiredString({
    alias: 'o',
    valueName: 'MODEL',
    description: 'model file to write (.safetensors); checkpoint, log, curve and sample go beside it',
  }),
  size: number(
    { integer: true, min: 8, max: 2048, default: 256, description: 'side of the square training crops' },
    { resumed: (c) => c.size },
  ),
  batch: number(
    { integer: true, min: 1, max: 256, default: 4, description: 'images per step' },
    { resumed: (c) => c.batch },
  ),
  iters: optionalNumber({ integer: true, min: 1, description: 'total optimiser steps (instead of --epochs)' }),
  epochs: optionalNumber({ min: 0.001, description: 'passes over the data (default 2 when --iters is not given)' }),
  // Half of Johnson's 1e-3: at 1e-3 our nets (and PyTorch's, on the same batches) grow saturated droplets
  // within a few hundred steps; at 5e-4 none to 1000 steps, with lower losses (docs/DROPLETS.md).
  lr: number({ min: 1e-12, max: 10, default: 5e-4, description: 'Adam learning rate' }, { resumed: (c) => c.lr }),
  contentWeight: optionalNumber(
    { min: 0, description: 'content loss weight (default: 1 for caffe-input VGGs, 1e5 torchvision)' },
    { resumed: (c) => c.loss.contentWeight },
  ),
  styleWeight: optionalNumber(
    { min: 0, description: 'style loss weight (default: 0.1 caffe, 1e10 torchvision; calibrate per style)' },
    { resumed: (c) => c.loss.styleWeight },
  ),
  tvWeight: optionalNumber(
    { min: 0, description: 'total-variation weight (default 1)' },
    { resumed: (c) => c.loss.tvWeight },
  ),
  styleSize: number(
    { integer: true, min: 16, max: 4096, default: 256, description: 'long side of the style image, pixels' },
    { resumed: (c) => c.styleSize },
  ),
  contentLayer: optionalString(
    { valueName: 'LAYER', description: 'VGG layer of the content loss (default relu2_2)' },
    { resumed: (c) => c.loss.contentLayer },
  ),
  styleLayers: optionalList(
    {
      valueName: 'L1,L2,...',
      description:
        'VGG layers of the style loss (default: relu1_2,relu2_2,relu3_4 on VGG19; relu1_2,relu2_2,relu3_3,relu4_3 on VGG16)',
    },
    { resumed: (c) => c.loss.styleLayers },
  ),
  width: number(
    { min: 0.01, max: 4, default: 1, description: 'channel width multiplier of the net (1 = 32/64/128 channels)' },
    { resumed: (c) => c.widthMultiplier },
  ),
  checkpointEvery: number({
    integer: true,
    min: 1,
    default: 200,
    description: 'steps between checkpoints (and loss-curve / sample updates)',
  }),
  resume: flag({ description: 'continue the run from the checkpoint beside --out, exactly' }),
  /** A model file (or checkpoint) whose weights the run starts from instead of random ones. */
  init: optionalString({
    valueName: 'MODEL',
    description:
      "start from this model's weights (either architecture, e.g. an imported ml5 net) instead of random ones",
  }),
  sample: optionalString({ valueName: 'IMG', description: 'photo stylised at each checkpoint (written beside it)' }),
  seed: number(
    {
      integer: true,
      min: 0,
      max: 2 ** 31 - 1,
      default: 1,
      description: 'seed of the initial weights and the data order',
    },
    { resumed: (c) => c.seed },
  ),
  /** How photos are scaled before cropping (a new run records it; a resumed run keeps the checkpoint's). */
  cropScale: choice(
    CROP_SCALES,
    {
      default: 'random',
      description:
        "how each photo is scaled before its crop: random (between 'shorter side = crop' and the photo's own size) or shorter-side (always the whole photo shrunk; runs before random existed)",
    },
    { resumed: (c) => c.cropScale ?? 'shorter-side' },
  ),
  /** Steps of linear learning-rate warm-up (0: none). */
  warmup: number(
    {
      integer: true,
      min: 0,
      default: 0,
      valueName: 'N',
      description:
        'ramp the learning rate up linearly over the first N steps (use ~100 with --init: fresh Adam steps wreck a trained net)',
    },
    { resumed: (c) => c.warmupSteps ?? 0 },
  ),
  /** Weight of the stability term (models/stability.ts; 0: none). */
  stabilityWeight: number(
    {
      min: 0,
      max: 1e12,
      default: 0,
      valueName: 'W',
      description:
        "add W · mean (f(x moved 1 px + noise σ 2) − f(x) moved 1 px)² to the loss (squared levels): less flicker in video (a second forward pass per step; see 'flicker')",
    },
    { resumed: (c) => c.stability?.weight ?? 0 },
  ),
  vgg: { spec: vggSpec('vgg'), read: (args) => vggPath(args, 'train') } satisfies TrainOption<string>,
  vggArch: {
    spec: vggSpec('vgg-arch'),
    read: (args, name) => args.string(name) as VggArchitecture | 'auto',
  } satisfies TrainOption<VggArchitecture | 'auto'>,
  vggInput: {
    spec: vggSpec('vgg-input'),
    read: (args, name) => args.string(name) as VggInput | 'auto',
  } satisfies TrainOption<VggInput | 'auto'>,
  /** Decoding threads; 0 decodes on the main thread. */
  workers: {
    spec: {
      type: 'number',
      integer: true,
      min: 0,
      max: 64,
      description: 'images decoded at once by libvips, off the JavaScript thread (default: cores − 1, at least 1)',
    },
    read: (args, name) => (args.given.has(name) ? args.number(name)! : Math.max(1, availableParallelism() - 1)),
  } satisfies TrainOption<number>,
  /** Precision of the checkpoint and model files written (f16 halves them, see encodeCheckpoint). */
  saveDtype: choice(['f32', 'f16'] as const, {
    default: 'f32',
    description:
      'precision of the checkpoint and model written: f16 halves them (checkpoint 10 MB instead of 20 at width 1); a resume from an f16 checkpoint is close, not bit-exact',
  }),
};

type TrainOptionKey = keyof typeof TRAIN_OPTIONS;
type ValueOf<O> = O extends TrainOption<infer T> ? T : never;

/** What the command line says, one field per option. */
export type TrainArgs = { [K in TrainOptionKey]: ValueOf<(typeof TRAIN_OPTIONS)[K]> };

export interface TrainOptions extends TrainArgs {
  /** Options given explicitly on the command line (a resumed run refuses to change them). */
  given?: ReadonlySet<string>;
  /** The command line, recorded in the run's history (checkpoints and the model). */
  command?: string;
  /** Where progress and warnings go (stderr). */
  log?(line: string): void;
  /** Progress line rewritten in place (a terminal), else printed every few steps. */
  interactive?: boolean;
}

const entries = Object.entries(TRAIN_OPTIONS) as [TrainOptionKey, TrainOption<unknown>][];

/** The option table of `train` (parser and help). */
export const trainOptionSpecs: OptionSpec[] = entries.map(([key, o]) => ({ name: optionName(key), ...o.spec }));

/** The options' values, read from the parsed command line in the order of their declaration. */
export function readTrainArgs(args: ParsedArgs): TrainArgs {
  if (args.given.has('iters') && args.given.has('epochs'))
    throw new UsageError('give either --iters or --epochs, not both');
  return Object.fromEntries(entries.map(([key, o]) => [key, o.read(args, optionName(key))])) as TrainArgs;
}

/** A resumed run keeps its settings: an option given that contradicts the checkpoint is a mistake. */
export function checkResumeOptions(o: TrainOptions, c: TrainConfig): void {
  const given = o.given ?? new Set<string>();
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  for (const [key, option] of entries) {
    const name = optionName(key);
    if (!option.resumed || !given.has(name)) continue;
    const mine = o[key];
    const theirs = option.resumed(c);
    if (!same(mine, theirs)) {
      throw new UsageError(
        `--${name} ${JSON.stringify(mine)} differs from the checkpoint's ${JSON.stringify(theirs)}: a resumed run keeps its settings (omit --${name})`,
      );
    }
  }
}

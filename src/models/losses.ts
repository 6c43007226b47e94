import { ShapeError, shapeStr } from '../engine/errors.js';
import { Tensor } from '../engine/tensor.js';
import { add, gram, mseLoss, scale, tvLoss } from '../autograd/functional.js';
import { noGrad } from '../autograd/tape.js';
import { vggLayers, type Vgg, type VggArchitecture, type VggInput } from './vgg.js';

/**
 * The perceptual losses of Johnson et al., with the definitions of ../shared/assets/README.md:
 *   content = mean((F_out − F_content)²) at one layer;
 *   style   = Σ_l w_l · mean((G_out,l − G_style,l)²), G = F·Fᵀ/(C·H·W) per image;
 *   tv      = mean(dx²) + mean(dy²) on the 0..255 output;
 *   total   = cw·content + sw·style + tvw·tv.
 */
export interface LossConfig {
  contentLayer: string;
  styleLayers: string[];
  /** One weight per style layer; default 1 each. */
  styleLayerWeights?: number[];
  contentWeight: number;
  styleWeight: number;
  tvWeight: number;
}

/**
 * Defaults per loss network. Caffe-convention VGG19 (the shared file): the measured working setting
 * (relu1_2, relu2_2, relu3_4 style; relu2_2 content; cw 1, sw 0.1, tvw 1). VGG16: Johnson's layers (relu1_2,
 * relu2_2, relu3_3, relu4_3 style; relu2_2 content). For torchvision-normalised input the features are ~100×
 * smaller, so the weights are pytorch/examples' (cw 1e5, sw 1e10) — not calibrated here (no such weights on
 * these machines): calibrate with short runs.
 */
export function defaultLossConfig(architecture: VggArchitecture, input: VggInput): LossConfig {
  const styleLayers =
    architecture === 'vgg19' ? ['relu1_2', 'relu2_2', 'relu3_4'] : ['relu1_2', 'relu2_2', 'relu3_3', 'relu4_3'];
  const weights =
    input === 'caffe'
      ? { contentWeight: 1, styleWeight: 0.1, tvWeight: 1 }
      : { contentWeight: 1e5, styleWeight: 1e10, tvWeight: 1 };
  return { contentLayer: 'relu2_2', styleLayers, ...weights };
}

/**
 * The smallest side an image may have for the loss network: each 2×2 max pool before the deepest layer used
 * halves it, and a pool needs at least 2 pixels on each side.
 */
export function minImageSide(config: LossConfig, architecture: VggArchitecture): number {
  const used = new Set([config.contentLayer, ...config.styleLayers]);
  const layers = vggLayers(architecture);
  let deepest = -1;
  layers.forEach((l, i) => {
    if (used.has(l.name)) deepest = i;
  });
  const pools = layers.slice(0, deepest + 1).filter((l) => l.kind === 'pool').length;
  return 2 ** pools;
}

export interface LossTerms {
  /** Each a [1] tensor: the unweighted terms and the weighted total. */
  content: Tensor;
  style: Tensor;
  tv: Tensor;
  total: Tensor;
}

/** LossTerms read back to the CPU. */
export interface StepLosses {
  content: number;
  style: number;
  tv: number;
  /** cw·content + sw·style + tvw·tv. */
  total: number;
}

/** Reads the four terms back with one readback (they are gathered into one buffer first). */
export async function readLosses(terms: LossTerms): Promise<StepLosses> {
  const engine = terms.total.engine;
  const packed = Tensor.empty(engine, [4], 'losses');
  try {
    [terms.content, terms.style, terms.tv, terms.total].forEach((t, i) =>
      engine.copyBuffer(t.buffer, 0, packed.buffer, 4 * i, 4),
    );
    const v = await packed.data();
    return { content: v[0], style: v[1], tv: v[2], total: v[3] };
  } finally {
    packed.dispose();
  }
}

export class StyleLoss {
  private readonly styleGrams: Tensor[];
  /** The style Grams repeated for a batch size, made once per size on the GPU. */
  private readonly batchedGrams = new Map<number, Tensor[]>();
  private readonly layerWeights: number[];
  readonly config: LossConfig;

  private constructor(
    private readonly vgg: Vgg,
    config: LossConfig,
    styleGrams: Tensor[],
  ) {
    this.config = config;
    this.styleGrams = styleGrams;
    this.layerWeights = config.styleLayerWeights ?? config.styleLayers.map(() => 1);
  }

  /** Computes the style image's Grams once (no gradient) and keeps them. styleImage: [1, 3, H, W], 0..255. */
  static create(vgg: Vgg, styleImage: Tensor, config: LossConfig): StyleLoss {
    if (styleImage.rank !== 4 || styleImage.shape[0] !== 1 || styleImage.shape[1] !== 3) {
      throw new ShapeError(`StyleLoss: the style image must be [1, 3, H, W], got ${shapeStr(styleImage.shape)}`);
    }
    if (config.styleLayers.length === 0) throw new RangeError('StyleLoss: no style layers');
    if (config.styleLayerWeights && config.styleLayerWeights.length !== config.styleLayers.length) {
      throw new RangeError(
        `StyleLoss: ${config.styleLayerWeights.length} layer weights for ${config.styleLayers.length} style layers`,
      );
    }
    const engine = styleImage.engine;
    const grams = engine.scope(() =>
      noGrad(() => {
        const f = vgg.features(styleImage, config.styleLayers);
        return config.styleLayers.map((l) => gram(f.get(l)!));
      }),
    );
    return new StyleLoss(
      vgg,
      { ...config, styleLayers: [...config.styleLayers] },
      grams.map((g) => engine.keep(g)),
    );
  }

  /**
   * The losses of a batch of transform-net outputs against their content images (both [B, 3, H, W], 0..255).
   * Gradients reach `output` only.
   */
  compute(output: Tensor, content: Tensor): LossTerms {
    if (output.rank !== 4 || output.shape.some((d, i) => d !== content.shape[i])) {
      throw new ShapeError(`StyleLoss: output ${shapeStr(output.shape)} and content ${shapeStr(content.shape)} differ`);
    }
    const { contentLayer, styleLayers } = this.config;
    const { contentWeight: cw, styleWeight: sw, tvWeight: tvw } = this.config;
    // The features, Grams and weighted terms end with this scope (the tape keeps what backward needs). Not
    // freed one by one: besides the features, which the VGG pass itself frees as it goes, they are small.
    return output.engine.scope(() => {
      const target = noGrad(() => this.vgg.features(content, [contentLayer]).get(contentLayer)!);
      const features = this.vgg.features(output, [...new Set([...styleLayers, contentLayer])]);
      const contentLoss = mseLoss(features.get(contentLayer)!, target);
      const targets = this.gramsForBatch(output.shape[0]);
      let styleLoss: Tensor | null = null;
      for (let i = 0; i < styleLayers.length; i++) {
        const term = mseLoss(gram(features.get(styleLayers[i])!), targets[i]);
        const weighted = this.layerWeights[i] === 1 ? term : scale(term, { alpha: this.layerWeights[i] });
        styleLoss = styleLoss ? add(styleLoss, weighted) : weighted;
      }
      const tv = tvLoss(output);
      const total = add(
        add(scale(contentLoss, { alpha: cw }), scale(styleLoss!, { alpha: sw })),
        scale(tv, { alpha: tvw }),
      );
      return { content: contentLoss, style: styleLoss!, tv, total };
    });
  }

  private gramsForBatch(batch: number): Tensor[] {
    let grams = this.batchedGrams.get(batch);
    if (grams) return grams;
    grams = this.styleGrams.map((g) => {
      const engine = g.engine;
      const [, c] = g.shape;
      const repeated = engine.keep(Tensor.empty(engine, [batch, c, c], 'style.gram'));
      for (let n = 0; n < batch; n++) engine.copyBuffer(g.buffer, 0, repeated.buffer, n * g.byteLength, g.byteLength);
      return repeated;
    });
    this.batchedGrams.set(batch, grams);
    return grams;
  }

  dispose(): void {
    for (const g of this.styleGrams) g.dispose();
    for (const list of this.batchedGrams.values()) for (const g of list) g.dispose();
    this.batchedGrams.clear();
  }
}

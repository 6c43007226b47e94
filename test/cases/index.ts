// Every shared case, in groups: what the Deno runner (test/deno/run.ts) runs and test/deno.test.ts expects.
// Each group's cases are also run by the vitest file named in `file`.
import type { GoldenStore } from '../helpers/golden-store.js';
import type { EngineCase } from './case.js';
import { preserveColorsCases } from './color.js';
import { conv2dTransposeCases, tfSameConvCases } from './conv2d-transpose.js';
import { conv2dRegisteredCase, conv2dSmallCases, winogradForwardCases, winogradRegisteredCase } from './conv2d.js';
import { elementwiseCases } from './elementwise.js';
import {
  goldenAdamCases,
  goldenOpCases,
  goldenSelfCheck,
  goldenTrainStepCase,
  goldenTransformNetCase,
  goldenVggCases,
} from './golden.js';
import { gramCases } from './gram.js';
import { instanceNormCases } from './instance-norm.js';
import { lossCases } from './losses.js';
import { channelAffineCases, crop2dCases, pad2dCases } from './pad-crop.js';
import { maxPoolCases } from './pool.js';
import { elementwiseTrainingCase, styleTrainingCase } from './training.js';
import { axpyScalarsCase, vectorReductionCases } from './vector.js';

export interface CaseGroup {
  group: string;
  /** The vitest file that runs the same cases on Node. */
  file: string;
  cases: EngineCase[];
}

export function allCaseGroups(store: GoldenStore): CaseGroup[] {
  return [
    { group: 'elementwise', file: 'test/elementwise.test.ts', cases: elementwiseCases },
    { group: 'pad2d', file: 'test/pad-crop.test.ts', cases: pad2dCases },
    { group: 'crop2d', file: 'test/pad-crop.test.ts', cases: crop2dCases },
    { group: 'channelAffine', file: 'test/pad-crop.test.ts', cases: channelAffineCases },
    { group: 'conv2d', file: 'test/conv2d.test.ts', cases: [...conv2dSmallCases, conv2dRegisteredCase] },
    {
      group: 'conv2d winograd',
      file: 'test/conv2d-winograd.test.ts',
      cases: [...winogradForwardCases, winogradRegisteredCase],
    },
    {
      group: 'conv2d SAME and transposed',
      file: 'test/conv2d-transpose.test.ts',
      cases: [...tfSameConvCases, ...conv2dTransposeCases],
    },
    { group: 'instanceNorm', file: 'test/instance-norm.test.ts', cases: instanceNormCases },
    { group: 'maxPool2d', file: 'test/pool.test.ts', cases: maxPoolCases },
    { group: 'gram', file: 'test/gram.test.ts', cases: gramCases },
    { group: 'losses', file: 'test/losses.test.ts', cases: lossCases },
    { group: 'preserveColors', file: 'test/color.test.ts', cases: preserveColorsCases },
    { group: 'vector (L-BFGS)', file: 'test/lbfgs.test.ts', cases: [...vectorReductionCases, axpyScalarsCase] },
    {
      group: 'golden ops',
      file: 'test/golden-ops.test.ts',
      cases: [...goldenOpCases(store), ...goldenAdamCases(store)],
    },
    {
      group: 'golden nets',
      file: 'test/golden-nets.test.ts',
      cases: [
        goldenSelfCheck(store),
        goldenTransformNetCase(store),
        ...goldenVggCases(store),
        goldenTrainStepCase(store),
      ],
    },
    { group: 'training', file: 'test/memory.test.ts', cases: [elementwiseTrainingCase, styleTrainingCase(store)] },
  ];
}

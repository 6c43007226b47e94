// The PyTorch checkpoint reader (src/models/pytorch-checkpoint.ts) on files written by PyTorch 1.13
// (test/fixtures/pytorch, scripts/golden/pytorch_files.py): both container formats, strides and shared
// storages, deflated zips, and hostile or damaged files. No GPU needed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readTorchCheckpoint, type Inflate } from '../src/models/pytorch-checkpoint.js';
import { torchStateDictKind, torchVggToFile, transformerNetTensors } from '../src/models/pytorch-import.js';
import { readSafetensors } from '../src/models/safetensors.js';
import { zipFile, zipEntriesOf } from './helpers/zip.js';

const DIR = join(__dirname, 'fixtures', 'pytorch');
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(DIR, name)));
const inflate: Inflate = (data) => new Uint8Array(inflateRawSync(data));
const reference = readSafetensors(fixture('reference.safetensors')).tensors;

describe('PyTorch checkpoints', () => {
  it('reads the zip and the legacy format of the same TransformerNet to the same values (strides, shared storage, IN buffers)', () => {
    const zip = readTorchCheckpoint(fixture('tnet.pth'), 'tnet.pth', inflate);
    const legacy = readTorchCheckpoint(fixture('tnet-legacy.pth'), 'tnet-legacy.pth');
    expect(zip.format).toBe('zip');
    expect(legacy.format).toBe('legacy');
    expect(torchStateDictKind(zip.tensors, 'tnet.pth')).toBe('transformer-net');
    expect(legacy.tensors.has('in1.running_mean')).toBe(true);
    const a = transformerNetTensors(zip.tensors, 'tnet.pth');
    const b = transformerNetTensors(legacy.tensors, 'tnet-legacy.pth');
    expect(a.widthMultiplier).toBe(0.125);
    expect([...a.tensors.keys()]).toEqual([...b.tensors.keys()]);
    for (const [name, t] of a.tensors) {
      expect(t.shape, name).toEqual(b.tensors.get(name)!.shape);
      expect(Array.from(t.data), name).toEqual(Array.from(b.tensors.get(name)!.data));
    }
    // The non-contiguous weight and the two slices of one storage really were stored that way.
    expect(zip.tensors.get('deconv1.conv2d.weight')!.shape).toEqual([8, 16, 3, 3]);
    expect(zip.tensors.get('conv1.conv2d.bias')!.data.length).toBe(4);
  });

  it('reads torchvision VGG16 layouts in both formats; the file keeps the features and names its layers', () => {
    const zip = readTorchCheckpoint(fixture('vgg16.pth'), 'vgg16.pth', inflate);
    const legacy = readTorchCheckpoint(fixture('vgg16-legacy.pth'), 'vgg16-legacy.pth');
    expect(torchStateDictKind(zip.tensors, 'x')).toBe('vgg');
    const w0 = reference.get('features.0.weight')!;
    for (const c of [zip, legacy])
      expect(Array.from(c.tensors.get('features.0.weight')!.data)).toEqual(Array.from(w0.data));
    const full = torchVggToFile(zip.tensors, { source: 'vgg16.pth' });
    expect(full.architecture).toBe('vgg16');
    expect(full.convs).toEqual(['conv1_1', 'conv1_2', 'conv2_1']);
    expect(full.relus).toEqual(['relu1_1', 'relu1_2', 'relu2_1']);
    const file = readSafetensors(full.bytes);
    expect([...file.tensors.keys()]).toEqual([
      'features.0.weight',
      'features.0.bias',
      'features.2.weight',
      'features.2.bias',
      'features.5.weight',
      'features.5.bias',
    ]);
    expect(file.metadata).toMatchObject({ vgg_input: 'torchvision', architecture: 'vgg16' });
    expect(torchVggToFile(legacy.tensors, { source: 'l' }).convs).toEqual(['conv1_1', 'conv1_2']);
  });

  it('reads a zip whose entries are deflated (as zip tools rewrite it)', () => {
    const entries = zipEntriesOf(fixture('tnet.pth'));
    const deflated = zipFile(
      entries.map((e) => ({ ...e, deflate: true })),
      deflateRawSync,
    );
    const a = readTorchCheckpoint(deflated, 'deflated.pth', inflate);
    const b = readTorchCheckpoint(fixture('tnet.pth'), 'tnet.pth', inflate);
    expect(Array.from(a.tensors.get('res3.conv2.conv2d.weight')!.data)).toEqual(
      Array.from(b.tensors.get('res3.conv2.conv2d.weight')!.data),
    );
  });

  const pickleCalling = (module: string, name: string): Uint8Array =>
    // PROTO 2; GLOBAL module name; SHORT_BINUNICODE 'id'; TUPLE1; REDUCE; STOP
    Uint8Array.from([
      0x80,
      0x02,
      0x63,
      ...Buffer.from(`${module}\n${name}\n`),
      0x8c,
      2,
      ...Buffer.from('id'),
      0x85,
      0x52,
      0x2e,
    ]);

  it('refuses a pickle that calls os.system (zip and legacy), naming it; nothing is run', () => {
    const zip = zipFile([
      { name: 'archive/data.pkl', data: pickleCalling('posix', 'system') },
      { name: 'archive/version', data: Buffer.from('3\n') },
    ]);
    expect(() => readTorchCheckpoint(zip, 'evil.pth', inflate)).toThrow(
      /^evil\.pth: the pickle refers to posix\.system, which a PyTorch state dict does not use; refusing to load it \(nothing from the file was run\)$/,
    );
    // Legacy: magic number, protocol 1001 and an empty system-info dict, then the hostile pickle.
    const legacyHead = [
      0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e, 0x80, 0x02, 0x4d, 0xe9,
      0x03, 0x2e, 0x80, 0x02, 0x7d, 0x2e,
    ];
    const legacy = (p: Uint8Array): Uint8Array => Uint8Array.from([...legacyHead, ...p]);
    expect(() => readTorchCheckpoint(legacy(pickleCalling('os', 'system')), 'evil.pth')).toThrow(
      /refers to os\.system/,
    );
    expect(() => readTorchCheckpoint(legacy(pickleCalling('builtins', 'eval')), 'evil.pth')).toThrow(
      /refers to builtins\.eval/,
    );
    expect(() =>
      readTorchCheckpoint(
        legacy(Uint8Array.from([0x80, 0x02, 0x63, ...Buffer.from('__main__\nTransformerNet\n'), 0x2e])),
        'net.pth',
      ),
    ).toThrow(/refers to __main__\.TransformerNet/);
  });

  it('refuses truncated zips and legacy files, and files that are neither', () => {
    const zip = fixture('tnet.pth');
    for (const cut of [zip.length - 10, Math.floor(zip.length / 2), 100]) {
      expect(() => readTorchCheckpoint(zip.subarray(0, cut), 'cut.pth', inflate)).toThrow(/^cut\.pth: trunc/);
    }
    const legacy = fixture('tnet-legacy.pth');
    for (const cut of [legacy.length - 10, 5000, 40]) {
      expect(() => readTorchCheckpoint(legacy.subarray(0, cut), 'cut.pth')).toThrow(/^cut\.pth: trunc/);
    }
    expect(() => readTorchCheckpoint(new TextEncoder().encode('hello, world'), 'x.pth')).toThrow(
      /^x\.pth: not a PyTorch checkpoint/,
    );
  });
});

import { createNodeEngine } from '../../engine/node.js';
import type { AdapterSummary } from '../../engine/engine.js';
import type { Command } from '../args.js';
import { packageVersion } from '../package-files.js';

function bytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(n % 2 ** 30 ? 1 : 0)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(n % 2 ** 20 ? 1 : 0)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(n % 2 ** 10 ? 1 : 0)} KiB`;
  return `${n} B`;
}

const BYTE_LIMITS = new Set(['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize']);

function describeAdapter(a: AdapterSummary, summary: string): string {
  const rows: [string, string][] = [
    ['adapter', summary],
    ['vendor', a.vendor || '-'],
    ['architecture', a.architecture || '-'],
    ['device', a.device || '-'],
    ['backend', a.backend || 'unknown'],
    ['fallback adapter', a.isFallbackAdapter ? 'yes (software: expect slow training and stylising)' : 'no'],
    ['features', a.features.length ? a.features.join(', ') : 'none'],
  ];
  const lines = rows.map(([k, v]) => `${(k + ':').padEnd(18)}${v}`);
  lines.push('limits:');
  const width = Math.max(...Object.keys(a.limits).map((k) => k.length)) + 2;
  for (const [k, v] of Object.entries(a.limits))
    lines.push(`  ${k.padEnd(width)}${v}${BYTE_LIMITS.has(k) ? ` (${bytes(v)})` : ''}`);
  return lines.join('\n');
}

export const infoCommand: Command = {
  name: 'info',
  summary: 'Show the WebGPU adapter this machine offers: backend, software fallback, limits, features.',
  usage: 'info [--json]',
  options: [{ name: 'json', type: 'boolean', description: 'print machine-readable JSON' }],
  async run(args) {
    const engine = await createNodeEngine({ quietDawnStartup: true });
    try {
      if (args.flag('json')) {
        console.log(JSON.stringify({ version: packageVersion(), node: process.version, ...engine.adapter }, null, 2));
      } else {
        console.log(`fast-style-webgpu ${packageVersion()} on Node ${process.version}`);
        console.log(describeAdapter(engine.adapter, engine.describe()));
      }
    } finally {
      engine.destroy();
    }
    return 0;
  },
};

#!/usr/bin/env node
import { createNodeEngine } from '../engine/node.js';

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command === 'info') {
    const engine = await createNodeEngine();
    console.log(JSON.stringify(engine.adapter, null, 2));
    engine.destroy();
    return 0;
  }
  console.log('usage: fast-style-webgpu <info> [options]');
  return command ? 2 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);

#!/usr/bin/env node
// A small static server for the web demo: dist/demo/ at /, the library bundle (dist/browser.js) at
// /browser.js, the shipped models (models/) at /models/ with a generated /models/index.json that lists the
// style files among them (by content: scripts/demo-styles.mjs) and the loss networks of models/loss-network/
// (what the Train panel fetches), and a thumbnail of each style at
// /thumbnails/NAME.jpg. Styles imported by scripts/demo.sh (.models-ml5/, git-ignored) are served and listed
// there too, after ours.
// Usage: npm run serve [-- --port 8080]   (or PORT=8080; default 8080; listens on localhost only)
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { listLossNetworks, listStyles, makeThumbnail, thumbnailSource } from './demo-styles.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const MIME_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
};

/**
 * The file under `base` that the URL path segments name, or null when they try to leave it: every segment
 * is decoded on its own, and `.`, `..`, empty (`//`), and segments that decode to a separator or a NUL are
 * refused; the resolved path must still lie inside `base`.
 */
export function safeJoin(base, segments) {
  const parts = [];
  for (const raw of segments) {
    let s;
    try {
      s = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (s === '' || s === '.' || s === '..' || /[\\/\0]/.test(s)) return null;
    parts.push(s);
  }
  const baseAbs = resolve(base);
  const full = resolve(baseAbs, ...parts);
  return full === baseAbs || full.startsWith(baseAbs + sep) ? full : null;
}

/**
 * Starts the server. Options: port (0 = any free one), host (default 127.0.0.1), and the folders it serves:
 * demoRoot (dist/demo), browserBundle (dist/browser.js), modelsDir (models), importedModelsDir (default
 * .models-ml5 when modelsDir is not given, else none), and where style descriptions and thumbnails come from:
 * styleConfig (styles/config.json), sharedAssets (../shared/assets; null: none), docsImages (docs/images),
 * samplesDir (demo-out). Resolves to { server, port, url, close() }.
 */
export function startServer(options = {}) {
  const demoRoot = resolve(options.demoRoot ?? join(root, 'dist', 'demo'));
  const browserBundle = resolve(options.browserBundle ?? join(root, 'dist', 'browser.js'));
  const modelsDir = resolve(options.modelsDir ?? join(root, 'models'));
  // Imported styles: the repository's .models-ml5/ when serving its own models/, else only when asked.
  const importedModelsDir =
    options.importedModelsDir !== undefined
      ? resolve(options.importedModelsDir)
      : options.modelsDir === undefined
        ? join(root, '.models-ml5')
        : null;
  const styleConfig = resolve(options.styleConfig ?? join(root, 'styles', 'config.json'));
  const thumbnailDirs = {
    sharedAssets:
      options.sharedAssets === null ? null : resolve(options.sharedAssets ?? join(root, '..', 'shared', 'assets')),
    docsImages: resolve(options.docsImages ?? join(root, 'docs', 'images')),
    samples: resolve(options.samplesDir ?? join(root, 'demo-out')),
  };
  const host = options.host ?? '127.0.0.1';
  const quiet = options.quiet ?? false;

  const styles = () => listStyles({ modelsDir, importedDir: importedModelsDir, configPath: styleConfig });
  /** What /models/index.json says of a style: what the page shows, where the file and its thumbnail are. */
  const describe = (s) => ({
    name: s.name,
    url: `models/${encodeURIComponent(s.file)}`,
    bytes: s.bytes,
    origin: s.origin,
    style: s.style,
    painting: s.painting,
    steps: s.steps,
    licence: s.licence,
    source: s.source,
    thumbnail: thumbnailSource(s, thumbnailDirs) ? `thumbnails/${encodeURIComponent(s.name)}.jpg` : null,
  });
  // Thumbnails by source file and its modification time: made once per server, not per page load.
  const thumbnails = new Map();
  const thumbnail = (name) => {
    const style = styles().find((s) => `${s.name}.jpg` === name);
    const source = style && thumbnailSource(style, thumbnailDirs);
    if (!source) return null;
    const key = `${source.path}:${statSync(source.path).mtimeMs}:${source.cell}`;
    if (!thumbnails.has(key)) thumbnails.set(key, makeThumbnail(source));
    return thumbnails.get(key);
  };

  const send = (res, status, body, type = 'text/plain; charset=utf-8') => {
    res.writeHead(status, {
      'Content-Type': type,
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-cache',
    });
    res.end(body);
  };

  const server = createServer(async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, 'method not allowed\n');
    }
    const rawPath = (req.url ?? '/').split(/[?#]/)[0];
    if (!rawPath.startsWith('/')) return send(res, 400, 'bad request\n');
    let segments = rawPath.slice(1).split('/');
    if (segments[segments.length - 1] === '') segments[segments.length - 1] = 'index.html';

    let file = null;
    if (segments.length === 1 && (segments[0] === 'browser.js' || segments[0] === 'browser.js.map')) {
      file = segments[0] === 'browser.js' ? browserBundle : browserBundle + '.map';
    } else if (segments[0] === 'models') {
      segments = segments.slice(1);
      if (segments.length === 1 && segments[0] === 'index.json') {
        const lossNetworks = listLossNetworks(modelsDir).map((l) => ({
          name: l.name,
          url: `models/${l.file.split('/').map(encodeURIComponent).join('/')}`,
          bytes: l.bytes,
        }));
        const body = JSON.stringify({ models: styles().map(describe), lossNetworks }, null, 2) + '\n';
        return send(res, 200, req.method === 'HEAD' ? '' : body, MIME_TYPES['.json']);
      }
      file = safeJoin(modelsDir, segments);
      if (file && importedModelsDir && !existsSync(file)) file = safeJoin(importedModelsDir, segments) ?? file;
    } else if (segments[0] === 'thumbnails' && segments.length === 2) {
      let jpegBytes = null;
      try {
        jpegBytes = await thumbnail(decodeURIComponent(segments[1]));
      } catch (e) {
        if (!quiet) console.error(`thumbnail ${segments[1]}: ${e.message}`);
      }
      if (!jpegBytes) return send(res, 404, 'not found\n');
      return send(res, 200, req.method === 'HEAD' ? '' : jpegBytes, MIME_TYPES['.jpg']);
    } else {
      file = safeJoin(demoRoot, segments);
    }
    if (!file) return send(res, 403, 'forbidden\n');

    let st;
    try {
      st = statSync(file);
    } catch {
      return send(res, 404, 'not found\n');
    }
    if (st.isDirectory()) {
      // A folder without the trailing slash: send the browser to the folder so relative links work.
      res.writeHead(301, { Location: rawPath + '/' });
      return res.end();
    }
    if (!st.isFile()) return send(res, 404, 'not found\n');
    res.writeHead(200, {
      'Content-Type': MIME_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': st.size,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
  });

  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, host, () => {
      server.off('error', reject);
      const port = server.address().port;
      const shownHost = host === '127.0.0.1' || host === '::1' ? 'localhost' : host;
      const url = `http://${shownHost}:${port}/`;
      if (!quiet) console.log(`serving ${demoRoot} at ${url} (library ${browserBundle}, models ${modelsDir})`);
      resolvePromise({
        server,
        port,
        url,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections?.();
            server.close(() => r());
          }),
      });
    });
  });
}

function parsePort(argv, env) {
  const i = argv.indexOf('--port');
  const eq = argv.find((a) => a.startsWith('--port='));
  const raw = eq ? eq.slice('--port='.length) : i >= 0 ? argv[i + 1] : env.PORT;
  if (raw === undefined || raw === '') return 8080;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port: ${raw}`);
  return port;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const port = parsePort(process.argv.slice(2), process.env);
  if (!existsSync(join(root, 'dist', 'demo', 'index.html')) || !existsSync(join(root, 'dist', 'browser.js'))) {
    console.error('dist/demo or dist/browser.js is missing: run `npm run build` first');
    process.exit(1);
  }
  startServer({ port }).catch((e) => {
    console.error(`could not start the server: ${e.message}`);
    process.exit(1);
  });
}

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** A static file the dashboard serves. */
export interface Asset {
  contentType: string;
  body: Buffer;
}

/** The chart library's files in its installed package, by the path the page loads them from. */
const UPLOT_FILES = {
  '/ui/uPlot.iife.min.js': ['uPlot.iife.min.js', 'text/javascript; charset=utf-8'],
  '/ui/uPlot.min.css': ['uPlot.min.css', 'text/css; charset=utf-8'],
} as const;

export type AssetPath = keyof typeof UPLOT_FILES;

export function isAssetPath(path: string): path is AssetPath {
  return Object.hasOwn(UPLOT_FILES, path);
}

const loaded = new Map<AssetPath, Asset>();

/** The file behind `path`, read from `uplot/dist` on first use (from then on, from memory). */
export function asset(path: AssetPath): Asset {
  let found = loaded.get(path);
  if (!found) {
    const [file, contentType] = UPLOT_FILES[path];
    found = { contentType, body: readFileSync(join(uplotDist(), file)) };
    loaded.set(path, found);
  }
  return found;
}

function uplotDist(): string {
  return join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
}

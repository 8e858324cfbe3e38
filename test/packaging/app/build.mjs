// Bundles page.js for the browser with the app's own esbuild, as an app would; prints the bundle's inputs.
import { build } from 'esbuild';

const result = await build({
  entryPoints: [new URL('page.js', import.meta.url).pathname],
  outfile: new URL('dist/app.js', import.meta.url).pathname,
  bundle: true,
  platform: 'browser',
  format: 'esm',
  metafile: true,
  logLevel: 'warning',
});
console.log(JSON.stringify(Object.keys(result.metafile.inputs)));

// build.mjs: assemble the static console in dist/ (served by the gateway
// under /console/).  No bundling: the sources are ES modules loaded as they
// are; Leaflet comes from node_modules (pinned in package-lock.json).
import { cpSync, mkdirSync, rmSync, existsSync, writeFileSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const leaflet = join(here, 'node_modules', 'leaflet', 'dist');

if (!existsSync(leaflet)) {
	console.error('build: node_modules/leaflet is missing; run "npm ci" in console/ first');
	process.exit(1);
}
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'vendor', 'leaflet'), { recursive: true });
for (const f of ['index.html', 'app.css']) cpSync(join(here, f), join(dist, f));
cpSync(join(here, 'src'), join(dist, 'src'), { recursive: true });
for (const f of ['leaflet-src.esm.js', 'leaflet.css', 'images']) {
	cpSync(join(leaflet, f), join(dist, 'vendor', 'leaflet', f), { recursive: true });
}
cpSync(join(here, 'node_modules', 'leaflet', 'LICENSE'), join(dist, 'vendor', 'leaflet', 'LICENSE'));
// run-time settings: the map tiles (MACHI_TILE_URL= builds a console without tiles)
const config = JSON.parse(readFileSync(join(here, 'config.json'), 'utf8'));
if (process.env.MACHI_TILE_URL !== undefined) config.tileUrl = process.env.MACHI_TILE_URL;
writeFileSync(join(dist, 'config.json'), JSON.stringify(config, null, 2) + '\n');
console.log('build: console/dist ready');

// config.js: run-time settings from config.json next to index.html.
export const config = { tileUrl: '', tileAttribution: '', mapCenter: [35.6, 140.11], mapZoom: 11 };

export async function loadConfig() {
	try {
		const res = await fetch('config.json', { cache: 'no-store' });
		if (res.ok) Object.assign(config, await res.json());
	} catch { /* defaults */ }
}

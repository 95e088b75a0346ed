// map.js: Leaflet maps.  The tile layer is optional (config.json tileUrl);
// without tiles, or when they fail to load (offline), the markers still show.
import * as L from '../vendor/leaflet/leaflet-src.esm.js';
import { h } from './dom.js';
import { t } from './i18n.js';
import { config } from './config.js';

export function createMap(container, { center, zoom } = {}) {
	const map = L.map(container, { attributionControl: true }).setView(center || config.mapCenter, zoom || config.mapZoom);
	if (config.tileUrl) {
		let failed = false;
		const layer = L.tileLayer(config.tileUrl, {
			maxZoom: 18,
			attribution: config.tileAttribution ? `<a href="https://maps.gsi.go.jp/development/ichiran.html">${escapeText(config.tileAttribution)}</a>` : '',
		});
		layer.on('tileerror', () => {
			if (failed) return;
			failed = true;
			container.parentNode?.insertBefore(h('p', { class: 'hint map-note' }, t('map.noTiles')), container.nextSibling);
		});
		layer.addTo(map);
	}
	return map;
}

function escapeText(s) {
	const d = document.createElement('div');
	d.textContent = s;
	return d.innerHTML;	// escaped configuration text, not data
}

// a circle marker coloured by status (CSS class marker-<status>)
export function statusMarker(report, onClick) {
	const m = L.circleMarker([Number(report.lat), Number(report.lon)], {
		radius: 8, weight: 2, className: `marker marker-${report.status}`,
	});
	const title = `#${report.id} ${report.title ?? ''}`;
	m.bindTooltip(() => {
		const el = document.createElement('span');
		el.textContent = title;
		return el;
	});
	if (onClick) m.on('click', onClick);
	return m;
}

export function fitMarkers(map, markers) {
	if (!markers.length) return;
	const group = L.featureGroup(markers).addTo(map);
	map.fitBounds(group.getBounds().pad(0.2), { maxZoom: 16 });
	return group;
}

export { L };

// queue.js: the report queue with filters, keyset paging, map and CSV.
import { h, replace, option, field } from '../dom.js';
import { t, label, STATUSES } from '../i18n.js';
import { get, getBlob, qs } from '../api.js';
import { session } from '../session.js';
import { navigate } from '../main.js';
import { reportRow, countsTable, statusOrder, errorText, outcome } from './common.js';
import { createMap, statusMarker, fitMarkers } from '../map.js';

const FILTERS = ['status', 'department', 'category', 'assignee', 'from', 'to', 'q'];

// the day after a YYYY-MM-DD date: "to" is inclusive in the form, exclusive in the API
function nextDay(d) {
	const x = new Date(d + 'T00:00:00Z');
	if (Number.isNaN(x.getTime())) return d;
	x.setUTCDate(x.getUTCDate() + 1);
	return x.toISOString().slice(0, 10);
}

// the API's query from the screen's URL: the filters in keys, "to" made exclusive
export function apiFilters(query, keys = FILTERS) {
	const f = {};
	for (const k of keys) if (query.get(k)) f[k] = query.get(k);
	if (f.to) f.to = nextDay(f.to);
	if (query.get('limit')) f.limit = query.get('limit');	// page size (URL only; the API's default is 50)
	return f;
}

export async function queueView(ctx) {
	const q = ctx.query;
	const sel = (name, opts) => h('select', { name, id: `f-${name}` }, option('', t('common.all'), !q.get(name)),
		opts.map(([v, l]) => option(v, l, q.get(name) === String(v))));
	const status = sel('status', STATUSES.map((s) => [s, label('status', s)]));
	const department = sel('department', session.departments.map((d) => [d.id, d.name]));
	const category = sel('category', session.categories.map((c) => [c.code, c.name]));
	const assignee = sel('assignee', [['me', t('queue.assignee.me')], ['none', t('queue.assignee.none')],
		...(session.staff || []).filter((s) => s.state === 'active').map((s) => [s.id, s.name || s.email || `#${s.id}`])]);
	const from = h('input', { type: 'date', name: 'from', id: 'f-from', value: q.get('from') || '' });
	const to = h('input', { type: 'date', name: 'to', id: 'f-to', value: q.get('to') || '' });
	const text = h('input', { type: 'search', name: 'q', id: 'f-q', value: q.get('q') || '' });
	const sort = h('select', { name: 'sort', id: 'f-sort' },
		option('newest', t('queue.sort.newest'), q.get('sort') !== 'oldest'),
		option('oldest', t('queue.sort.oldest'), q.get('sort') === 'oldest'));
	const controls = { status, department, category, assignee, from, to, q: text, sort };
	// a refused download (e.g. more reports than one file holds) says why
	const csvError = h('p', { class: 'result error', id: 'csv-error', role: 'alert', hidden: true });
	const csv = () => {
		outcome(csvError);
		downloadCsv(q).catch((e) => outcome(csvError, 'error', errorText(e)));
	};

	const form = h('form', { class: 'filters card', id: 'filters', onsubmit: (ev) => {
		ev.preventDefault();
		const p = new URLSearchParams();
		for (const [k, el] of Object.entries(controls)) if (el.value && !(k === 'sort' && el.value === 'newest')) p.set(k, el.value);
		navigate('#/reports' + (p.toString() ? '?' + p : ''));
	} },
		field(t('queue.status'), status), field(t('queue.department'), department),
		field(t('queue.category'), category), field(t('queue.assignee'), assignee),
		field(t('queue.from'), from), field(t('queue.to'), to), field(t('queue.q'), text), field(t('queue.sort'), sort),
		h('div', { class: 'actions' },
			h('button', { type: 'submit', id: 'f-submit' }, t('common.search')),
			h('button', { type: 'button', class: 'secondary', onclick: () => navigate('#/reports') }, t('common.reset')),
			h('button', { type: 'button', class: 'secondary', id: 'csv-download', onclick: csv }, t('queue.csv'))),
		csvError);

	const counts = h('div', { id: 'queue-counts' });
	const tbody = h('tbody', {});
	const table = h('table', { class: 'reports', id: 'queue-table' },
		h('thead', {}, h('tr', {}, ['col.id', 'col.created', 'col.status', 'col.category', 'col.department', 'col.title', 'col.address', 'col.visibility']
			.map((k) => h('th', { scope: 'col' }, t(k))))), tbody);
	const info = h('p', { class: 'hint', id: 'queue-info' }, t('common.loading'));
	const more = h('button', { type: 'button', id: 'queue-more', class: 'secondary', hidden: true }, t('queue.more'));
	const mapEl = h('div', { class: 'map', id: 'queue-map' });
	replace(ctx.main, h('h1', {}, t('queue.heading')), form, counts,
		h('div', { class: 'queue' }, h('div', { class: 'list' }, info, table, more),
			h('div', { class: 'side' }, h('h2', {}, t('queue.map')), mapEl,
				h('ul', { class: 'legend' }, statusOrder(null).map((s) => h('li', {}, h('span', { class: `dot marker-${s}` }), label('status', s)))))));

	const map = createMap(mapEl);
	let markers = [];
	let group = null;
	const rows = [];
	const render = () => {
		const sorted = q.get('sort') === 'oldest' ? [...rows].sort((a, b) => a.id - b.id) : rows;
		replace(tbody, sorted.map(reportRow));
		info.textContent = rows.length ? t('queue.shown', { n: rows.length }) : t('queue.empty');
		if (group) group.remove();
		markers = rows.filter((r) => r.lat != null && r.lon != null).map((r) => statusMarker(r, () => navigate(`#/reports/${r.id}`)));
		group = fitMarkers(map, markers);
	};
	const load = async (path) => {
		more.disabled = true;
		try {
			const body = await get(path);
			if (!ctx.isCurrent()) return;
			rows.push(...(body.reports || []));
			if (body.counts) replace(counts, countsTable(body.counts));
			more.hidden = !body.next;
			more.onclick = () => load(body.next);
			render();
		} catch (e) {
			info.textContent = errorText(e);
			info.className = 'error';
		} finally {
			more.disabled = false;
		}
	};
	await load('/v1/staff/reports' + qs(apiFilters(q)));
	requestAnimationFrame(() => map.invalidateSize());
}

async function downloadCsv(query) {
	const blob = await getBlob('/v1/staff/reports.csv' + qs({ ...apiFilters(query), bom: 1 }));
	const url = URL.createObjectURL(blob);
	const a = h('a', { href: url, download: 'reports.csv', hidden: true });
	document.body.append(a);
	a.click();
	a.remove();
	setTimeout(() => URL.revokeObjectURL(url), 10000);
}

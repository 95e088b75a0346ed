// detail.js: one report: photos, map, history, status, routing, responses,
// publication with redaction and a preview of what citizens will see.
import { h, replace, option, field } from '../dom.js';
import { t, label, dateTime } from '../i18n.js';
import { get, patch, post } from '../api.js';
import { session } from '../session.js';
import { route as rerender } from './rerender.js';
import { statusBadge, errorText, outcome } from './common.js';
import { allowedTransitions } from '../fallback.js';
import { createMap, statusMarker } from '../map.js';

function formCard(id, title, ...children) {
	return h('section', { class: 'card', id }, h('h2', {}, title), ...children);
}

function resultLine() {
	return h('p', { class: 'result', role: 'status', hidden: true });
}

// the confirmation of the last change, shown once after the page is redrawn
let done = null;

async function submit(line, fn, okText) {
	outcome(line);
	try {
		await fn();
		done = okText || t('common.saved');
		setTimeout(rerender, 0);
	} catch (e) {
		outcome(line, 'error', errorText(e));
	}
}

export async function detailView(ctx, id) {
	replace(ctx.main, h('p', {}, t('common.loading')));
	let body;
	try {
		body = await get(`/v1/reports/${encodeURIComponent(id)}`);
	} catch (e) {
		if (!ctx.isCurrent()) return;
		replace(ctx.main, h('p', { class: 'error', id: 'detail-error', role: 'alert' },
			e.status === 404 ? t('detail.notFound') : errorText(e)),
		h('p', {}, h('a', { href: '#/reports' }, t('detail.back'))));
		return;
	}
	if (!ctx.isCurrent()) return;
	const r = body.report;
	// staff of another department see published reports without the staff fields
	const mayEdit = r.public_title !== undefined && session.account.role !== 'viewer';

	const info = h('dl', { class: 'facts' },
		h('dt', {}, t('col.status')), h('dd', { id: 'detail-status' }, statusBadge(r.status, r.status_label)),
		h('dt', {}, t('col.category')), h('dd', {}, r.category?.name ?? ''),
		h('dt', {}, t('col.department')), h('dd', {}, r.department?.name ?? ''),
		h('dt', {}, t('detail.assignee')), h('dd', {}, assigneeName(r.assignee_id)),
		h('dt', {}, t('detail.created')), h('dd', {}, dateTime(r.created_at)),
		h('dt', {}, t('detail.updated')), h('dd', {}, dateTime(r.updated_at)),
		h('dt', {}, t('detail.address')), h('dd', {}, r.address ?? ''),
		h('dt', {}, t('detail.position')), h('dd', {}, `${r.lat}, ${r.lon}`),
		h('dt', {}, t('col.visibility')), h('dd', { id: 'detail-visibility' }, t(r.visibility === 'public' ? 'vis.public' : 'vis.private')));
	const dup = r.duplicate_of ? h('p', { id: 'duplicate-of' }, h('a', { href: `#/reports/${r.duplicate_of}` }, t('detail.duplicateOf', { id: r.duplicate_of }))) : null;
	const photos = h('div', { class: 'photos', id: 'photos' }, (r.photos || []).length
		? r.photos.map((p) => h('figure', { class: p.hidden ? 'hidden-photo' : '' },
			h('img', { src: p.url, alt: `${t('detail.photos')} ${p.n}`, loading: 'lazy' }),
			h('figcaption', {}, `${p.n}${p.hidden ? ' (' + t('detail.photoHidden') + ')' : ''}`)))
		: h('p', { class: 'empty' }, t('detail.noPhotos')));
	const mapEl = h('div', { class: 'map small', id: 'detail-map' });
	const history = h('ol', { class: 'history', id: 'history' }, (body.updates || []).map((u) => h('li', { 'data-kind': u.kind },
		h('span', { class: 'when' }, dateTime(u.created_at)), ' ',
		h('strong', {}, label('kind', u.kind, u.kind)), u.visibility === 'internal' ? ' ' + t('kind.internal') : '', ' ',
		u.kind === 'status' ? [statusBadge(u.old_status), ' → ', statusBadge(u.new_status)] : null,
		u.body ? h('p', {}, u.body) : null)));

	const confirmation = done ? h('p', { class: 'flash', id: 'detail-done', role: 'status' }, done) : null;
	done = null;
	replace(ctx.main,
		h('p', {}, h('a', { href: '#/reports' }, t('detail.back'))), confirmation,
		h('h1', { id: 'detail-title' }, t('detail.heading', { id: r.id }), ' ', h('span', { class: 'report-title' }, r.title ?? '')),
		h('div', { class: 'detail' },
			h('div', { class: 'main-col' },
				h('section', { class: 'card' }, info, dup,
					h('h2', {}, t('detail.description')), h('p', { class: 'description', id: 'detail-description' }, r.description ?? '')),
				formCard('photos-card', t('detail.photos'), photos),
				formCard('history-card', t('detail.history'), (body.updates || []).length ? history : h('p', { class: 'empty' }, t('detail.noHistory')))),
			h('div', { class: 'side-col' },
				h('section', { class: 'card' }, mapEl),
				mayEdit ? statusForm(r) : null,
				mayEdit ? routingForm(r) : null,
				mayEdit ? responseForm(r) : null)),
		mayEdit ? publishForm(r) : null);

	const map = createMap(mapEl, { center: [Number(r.lat), Number(r.lon)], zoom: 16 });
	statusMarker(r).addTo(map);
	requestAnimationFrame(() => map.invalidateSize());
}

function assigneeName(id) {
	if (id == null) return t('queue.assignee.none');
	const s = (session.staff || []).find((x) => x.id === id);
	return s ? (s.name || s.email || `#${id}`) : `#${id}`;
}

function statusForm(r) {
	const allowed = allowedTransitions(r);
	if (!allowed.length) return formCard('status-card', t('detail.statusChange'), h('p', { class: 'hint' }, t('detail.noTransitions')));
	const status = h('select', { id: 'status-select' }, allowed.map((s) => option(s, label('status', s), false)));
	const dupId = h('input', { type: 'number', id: 'duplicate-id', min: '1' });
	const dupField = field(t('detail.duplicateId'), dupId);
	const note = h('textarea', { id: 'status-note', rows: '2' });
	const line = resultLine();
	const sync = () => { dupField.hidden = status.value !== 'duplicate'; };
	status.addEventListener('change', sync);
	sync();
	return formCard('status-card', t('detail.statusChange'), h('form', { onsubmit: (ev) => {
		ev.preventDefault();
		const b = { status: status.value };
		if (status.value === 'duplicate') b.duplicate_of = dupId.value;
		if (note.value.trim()) b.note = note.value;
		submit(line, () => patch(`/v1/staff/reports/${r.id}`, b));
	} }, field(t('detail.newStatus'), status), dupField, field(t('detail.note'), note), line,
	h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'status-submit' }, t('detail.changeStatus')))));
}

function routingForm(r) {
	const cat = h('select', { id: 'route-category' }, session.categories.map((c) => option(c.id, c.name, c.id === r.category?.id)));
	const dept = h('select', { id: 'route-department' }, session.departments.map((d) => option(d.id, d.name, d.id === r.department?.id)));
	const staff = (session.staff || []).filter((s) => s.state === 'active');
	const asg = h('select', { id: 'route-assignee' }, option('', t('queue.assignee.none'), r.assignee_id == null),
		staff.map((s) => option(s.id, s.name || s.email || `#${s.id}`, s.id === r.assignee_id)),
		session.account && !staff.some((s) => s.id === session.account.id)
			? option(session.account.id, t('queue.assignee.me'), r.assignee_id === session.account.id) : null);
	const line = resultLine();
	return formCard('routing-card', t('detail.routing'), h('form', { onsubmit: (ev) => {
		ev.preventDefault();
		const b = {};
		if (Number(cat.value) !== r.category?.id) b.category = cat.value;
		if (Number(dept.value) !== r.department?.id) b.department = dept.value;
		const a = asg.value === '' ? null : Number(asg.value);
		if (a !== (r.assignee_id ?? null)) b.assignee = a;
		submit(line, () => patch(`/v1/staff/reports/${r.id}`, b));
	} }, field(t('col.category'), cat), field(t('col.department'), dept), field(t('detail.assignee'), asg), line,
	h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'routing-submit' }, t('detail.routingSave')))));
}

function responseForm(r) {
	const text = h('textarea', { id: 'response-body', rows: '3', required: true });
	const pub = h('input', { type: 'radio', name: 'response-visibility', value: 'public', id: 'response-public', checked: true });
	const int = h('input', { type: 'radio', name: 'response-visibility', value: 'internal', id: 'response-internal' });
	const line = resultLine();
	return formCard('response-card', t('detail.response'), h('form', { onsubmit: (ev) => {
		ev.preventDefault();
		submit(line, () => post(`/v1/staff/reports/${r.id}/responses`, { body: text.value, visibility: pub.checked ? 'public' : 'internal' }));
	} }, field(t('detail.responseBody'), text),
	h('div', { class: 'radios' }, h('label', {}, pub, ' ', t('detail.responsePublic')), h('label', {}, int, ' ', t('detail.responseInternal'))),
	line, h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'response-submit' }, t('detail.responseSend')))));
}

function publishForm(r) {
	const title = h('input', { type: 'text', id: 'public-title', maxlength: '200', value: r.public_title ?? r.title ?? '' });
	const desc = h('textarea', { id: 'public-description', rows: '5', maxlength: '4000' });
	desc.value = r.public_description ?? r.description ?? '';
	const hides = (r.photos || []).map((p) => ({ n: p.n, url: p.url, box: h('input', { type: 'checkbox', class: 'hide-photo', 'data-n': String(p.n), checked: !!p.hidden }) }));
	const preview = h('div', { class: 'preview', id: 'publish-preview' });
	const renderPreview = () => replace(preview,
		h('h3', { id: 'preview-title' }, title.value),
		h('p', { id: 'preview-description' }, desc.value),
		h('div', { class: 'photos' }, hides.filter((x) => !x.box.checked).map((x) => h('img', { src: x.url, alt: `${t('detail.photos')} ${x.n}` }))));
	title.addEventListener('input', renderPreview);
	desc.addEventListener('input', renderPreview);
	hides.forEach((x) => x.box.addEventListener('change', renderPreview));
	renderPreview();
	const line = resultLine();
	const body = (extra) => ({ public_title: title.value, public_description: desc.value,
		hidden_photos: hides.filter((x) => x.box.checked).map((x) => x.n), ...extra });
	return formCard('publish-card', t('detail.publish'),
		h('p', { class: 'hint', id: 'publish-state' }, t(r.visibility === 'public' ? 'detail.isPublic' : 'detail.isPrivate')),
		h('div', { class: 'publish' },
			h('form', { onsubmit: (ev) => {
				ev.preventDefault();
				submit(line, () => patch(`/v1/staff/reports/${r.id}`, body({ visibility: 'public' })), t('detail.published'));
			} },
				field(t('detail.publicTitle'), title), field(t('detail.publicDescription'), desc),
				hides.map((x) => h('label', { class: 'check' }, x.box, ' ', t('detail.hidePhoto', { n: x.n }))),
				line,
				h('div', { class: 'actions' },
					h('button', { type: 'submit', id: 'publish-submit' }, t('detail.publishNow')),
					h('button', { type: 'button', class: 'secondary', id: 'redaction-save',
						onclick: () => submit(line, () => patch(`/v1/staff/reports/${r.id}`, body({}))) }, t('detail.saveRedaction')),
					r.visibility === 'public' ? h('button', { type: 'button', class: 'secondary', id: 'unpublish',
						onclick: () => submit(line, () => patch(`/v1/staff/reports/${r.id}`, { visibility: 'private' })) }, t('detail.unpublish')) : null)),
			h('div', {}, h('h3', {}, t('detail.preview')), preview)));
}

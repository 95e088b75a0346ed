// admin_catalogue.js: tenant administration of departments and of the
// categories citizens report under, with their routing to a department
// (/v1/admin/departments, /v1/admin/categories).
import { h, replace, option, field } from '../dom.js';
import { t } from '../i18n.js';
import { get, post, patch } from '../api.js';
import { loadContext } from '../main.js';
import { errorText, outcome } from './common.js';
import { route } from './rerender.js';

// the "saved" line to show once the screen is drawn again
let saved = null;

// status(id): the result line of a screen, "saved" after a redraw
function status(id) {
	const line = h('p', { class: 'result', id, role: 'status', hidden: true });
	if (saved === id) outcome(line, 'ok', t('common.saved'));
	saved = null;
	return line;
}

// saveThen(line, work): run a change; then draw the screen again with the
// server's state, or show the error and keep what was typed
async function saveThen(line, work) {
	// the last outcome goes away at once: a "saved" left from the previous
	// change must not be read as this one's
	outcome(line);
	try {
		await work();
		// the queue's filters and the report screens use the active catalogue
		await loadContext().catch(() => {});
		saved = line.id;
		route();
	} catch (e) {
		outcome(line, 'error', errorText(e));
	}
}

function activeLabel(active) {
	return h('span', { class: active ? 'badge' : 'badge inactive' }, t(active ? 'catalogue.active' : 'catalogue.inactive'));
}

export async function departmentsView(ctx, nav) {
	const { departments } = await get('/v1/admin/departments');
	if (!ctx.isCurrent()) return;
	const line = status('dept-result');
	const rows = departments.map((d) => {
		const name = h('input', { type: 'text', class: 'dept-name', value: d.name, maxlength: '200', required: true, 'aria-label': t('catalogue.name') });
		const nameEn = h('input', { type: 'text', class: 'dept-name-en', value: d.name_en ?? '', maxlength: '200', 'aria-label': t('catalogue.nameEn') });
		return h('tr', { 'data-id': String(d.id) },
			h('td', {}, String(d.id)),
			h('td', {}, name),
			h('td', {}, nameEn),
			h('td', {}, activeLabel(d.active)),
			h('td', {},
				h('button', { type: 'button', class: 'secondary dept-save', onclick: () => saveThen(line,
					() => patch(`/v1/admin/departments/${d.id}`, { name: name.value, name_en: nameEn.value || null })) }, t('catalogue.rename')), ' ',
				h('button', { type: 'button', class: 'secondary dept-toggle', onclick: () => saveThen(line,
					() => patch(`/v1/admin/departments/${d.id}`, { active: !d.active })) },
				t(d.active ? 'catalogue.deactivate' : 'catalogue.activate'))));
	});
	const name = h('input', { type: 'text', id: 'dept-new-name', required: true, maxlength: '200' });
	const nameEn = h('input', { type: 'text', id: 'dept-new-name-en', maxlength: '200' });
	const form = h('form', { class: 'create', id: 'dept-create', onsubmit: (ev) => {
		ev.preventDefault();
		saveThen(line, () => post('/v1/admin/departments', { name: name.value, name_en: nameEn.value || null }));
	} },
	h('h3', {}, t('catalogue.addDepartment')),
	field(t('catalogue.name'), name), field(t('catalogue.nameEn'), nameEn),
	h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'dept-new-submit' }, t('catalogue.addDepartment'))));
	replace(ctx.main, h('h1', {}, t('admin.heading')), nav,
		h('section', { class: 'card', id: 'departments-card' }, h('h2', {}, t('admin.section.departments')),
			h('p', { class: 'hint' }, t('catalogue.departmentsHint')), line,
			h('table', { id: 'dept-table' },
				h('thead', {}, h('tr', {}, ['catalogue.id', 'catalogue.name', 'catalogue.nameEn', 'catalogue.state', ''].map((k) => h('th', {}, k ? t(k) : '')))),
				h('tbody', {}, rows)),
			form));
}

function departmentSelect(departments, current, props) {
	return h('select', props, departments.map((d) =>
		option(d.id, d.active ? d.name : `${d.name} (${t('catalogue.inactive')})`, d.id === current)));
}

export async function categoriesView(ctx, nav) {
	const [{ categories }, { departments }] = await Promise.all([get('/v1/admin/categories'), get('/v1/admin/departments')]);
	if (!ctx.isCurrent()) return;
	const line = status('cat-result');
	const rows = categories.map((c) => {
		const name = h('input', { type: 'text', class: 'cat-name', value: c.name, maxlength: '200', required: true, 'aria-label': t('catalogue.name') });
		const nameEn = h('input', { type: 'text', class: 'cat-name-en', value: c.name_en ?? '', maxlength: '200', 'aria-label': t('catalogue.nameEn') });
		const dept = departmentSelect(departments, c.department_id, { class: 'cat-dept', 'aria-label': t('catalogue.routedTo') });
		const sort = h('input', { type: 'number', class: 'cat-sort', min: '-1000', max: '1000', value: String(c.sort_order), 'aria-label': t('catalogue.sortOrder') });
		return h('tr', { 'data-id': String(c.id), 'data-code': c.code },
			h('td', {}, h('code', {}, c.code)),
			h('td', {}, name),
			h('td', {}, nameEn),
			h('td', {}, dept),
			h('td', {}, sort),
			h('td', {}, activeLabel(c.active)),
			h('td', {},
				h('button', { type: 'button', class: 'secondary cat-save', onclick: () => saveThen(line,
					() => patch(`/v1/admin/categories/${c.id}`, { name: name.value, name_en: nameEn.value || null,
						department_id: Number(dept.value), sort_order: Number(sort.value) })) }, t('common.save')), ' ',
				h('button', { type: 'button', class: 'secondary cat-toggle', onclick: () => saveThen(line,
					() => patch(`/v1/admin/categories/${c.id}`, { active: !c.active })) },
				t(c.active ? 'catalogue.deactivate' : 'catalogue.activate'))));
	});
	const code = h('input', { type: 'text', id: 'cat-new-code', required: true, maxlength: '64', pattern: '[A-Za-z0-9_.\\-]{1,64}' });
	const name = h('input', { type: 'text', id: 'cat-new-name', required: true, maxlength: '200' });
	const nameEn = h('input', { type: 'text', id: 'cat-new-name-en', maxlength: '200' });
	const description = h('textarea', { id: 'cat-new-description', maxlength: '2000', rows: '2' });
	const dept = departmentSelect(departments.filter((d) => d.active), null, { id: 'cat-new-dept', required: true });
	const form = h('form', { class: 'create', id: 'cat-create', onsubmit: (ev) => {
		ev.preventDefault();
		saveThen(line, () => post('/v1/admin/categories', { code: code.value, name: name.value, name_en: nameEn.value || null,
			description: description.value || null, department_id: Number(dept.value) }));
	} },
	h('h3', {}, t('catalogue.addCategory')),
	field(t('catalogue.code'), code, t('catalogue.codeHint')), field(t('catalogue.name'), name), field(t('catalogue.nameEn'), nameEn),
	field(t('catalogue.description'), description), field(t('catalogue.routedTo'), dept),
	h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'cat-new-submit' }, t('catalogue.addCategory'))));
	replace(ctx.main, h('h1', {}, t('admin.heading')), nav,
		h('section', { class: 'card', id: 'categories-card' }, h('h2', {}, t('admin.section.categories')),
			h('p', { class: 'hint' }, t('catalogue.categoriesHint')), line,
			h('table', { id: 'cat-table' },
				h('thead', {}, h('tr', {}, ['catalogue.code', 'catalogue.name', 'catalogue.nameEn', 'catalogue.routedTo', 'catalogue.sortOrder', 'catalogue.state', '']
					.map((k) => h('th', {}, k ? t(k) : '')))),
				h('tbody', {}, rows)),
			form));
}

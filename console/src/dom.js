// dom.js: build elements without HTML parsing.  Every value becomes a text
// node or a property; nothing here ever assigns innerHTML, and no inline
// style attribute is set (the gateway's Content-Security-Policy forbids them).

export function h(tag, props, ...children) {
	const el = document.createElement(tag);
	for (const [k, v] of Object.entries(props || {})) {
		if (v === null || v === undefined || v === false) continue;
		if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
		else if (k === 'text') el.textContent = String(v);
		else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
		else if (k === 'dataset') Object.assign(el.dataset, v);
		else if (k === 'style') throw new Error('inline styles are not allowed');
		else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled') el[k] = v;
		else el.setAttribute(k, v === true ? '' : String(v));
	}
	append(el, children);
	return el;
}

export function append(el, children) {
	for (const c of children.flat(Infinity)) {
		if (c === null || c === undefined || c === false) continue;
		el.append(c instanceof Node ? c : String(c));
	}
	return el;
}

export function clear(el) {
	while (el.firstChild) el.removeChild(el.firstChild);
	return el;
}

export function replace(el, ...children) {
	clear(el);
	return append(el, children);
}

// option(value, label, selected)
export function option(value, label, selected) {
	return h('option', { value: String(value), selected: !!selected }, label);
}

export function field(label, control, hint) {
	return h('label', { class: 'field' }, h('span', { class: 'label' }, label), control,
		hint ? h('span', { class: 'hint' }, hint) : null);
}

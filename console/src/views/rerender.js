// rerender.js: draw the current screen again (after a change).
export function route() {
	window.dispatchEvent(new HashChangeEvent('hashchange'));
}

import { readonly, ref, type Ref } from 'vue';
import { parseRoute, type Route } from './parseRoute.js';

const current = ref<Route>(parseRoute(location.pathname));
addEventListener('popstate', () => (current.value = parseRoute(location.pathname)));

/** The page being shown; a six-route app needs no router library, only the History API. */
export function useRoute(): Readonly<Ref<Route>> {
	return readonly(current) as Readonly<Ref<Route>>;
}

/** Goes to `path` without a page load. */
export function navigate(path: string): void {
	history.pushState(null, '', path);
	current.value = parseRoute(path);
}

/**
 * The player's pages. Share links are `/s/<spaceId>`; `/embed/<spaceId>` is the minimal listener for iframes;
 * `/admin` is the operator's page and `/host-invite` redeems a host invite (both read a code from the fragment).
 */
export type Route =
	| { name: 'create' }
	| { name: 'admin' }
	| { name: 'hostInvite' }
	| { name: 'space'; spaceId: string }
	| { name: 'embed'; spaceId: string }
	| { name: 'notFound' };

const spaceId = '([A-Za-z0-9_-]{1,64})';
const patterns: [RegExp, (id: string) => Route][] = [
	[new RegExp(`^/s/${spaceId}/?$`), (id) => ({ name: 'space', spaceId: id })],
	[new RegExp(`^/embed/${spaceId}/?$`), (id) => ({ name: 'embed', spaceId: id })],
];

/** Maps a location's path to a page; ids are checked here so pages never see malformed ones. */
export function parseRoute(pathname: string): Route {
	if (pathname === '/' || pathname === '') return { name: 'create' };
	if (/^\/admin\/?$/.test(pathname)) return { name: 'admin' };
	if (/^\/host-invite\/?$/.test(pathname)) return { name: 'hostInvite' };
	for (const [pattern, make] of patterns) {
		const match = pattern.exec(pathname);
		if (match) return make(match[1]!);
	}
	return { name: 'notFound' };
}

export const shareLink = (origin: string, id: string): string => `${origin}/s/${id}`;

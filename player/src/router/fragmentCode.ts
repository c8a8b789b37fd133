/**
 * One-time codes travel in a link's fragment (`/admin#code=…`, `/host-invite#code=…`): a browser never sends the
 * fragment to a server, so the code stays out of access logs, proxies and Referer headers.
 */

/** The `code` parameter of a fragment (`#code=…`), if it looks like one (base64url, 16–256 characters). */
export function codeFromHash(hash: string): string | undefined {
	const code = new URLSearchParams(hash.replace(/^#/, '')).get('code');
	return code && /^[A-Za-z0-9_-]{16,256}$/.test(code) ? code : undefined;
}

/**
 * Reads the page's fragment code once and removes the fragment from the address bar and the history entry, so a
 * reload, a bookmark or a shared screen does not carry a code that was already used.
 */
export function takeFragmentCode(): string | undefined {
	if (!location.hash) return undefined;
	const code = codeFromHash(location.hash);
	history.replaceState(history.state, '', location.pathname + location.search);
	return code;
}

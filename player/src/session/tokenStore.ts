/**
 * Participant tokens per space in sessionStorage: a reload or a reconnect resumes the same participant and role;
 * another tab or a new visit joins afresh. The display name is kept to rejoin after the token expires.
 */
export interface StoredSession {
	token: string;
	displayName: string;
}

const key = (spaceId: string) => `tribune:session:${spaceId}`;

export function loadSession(spaceId: string): StoredSession | undefined {
	try {
		const value = JSON.parse(sessionStorage.getItem(key(spaceId)) ?? 'null') as StoredSession | null;
		return value && typeof value.token === 'string' && typeof value.displayName === 'string' ? value : undefined;
	} catch {
		return undefined;
	}
}

export function saveSession(spaceId: string, session: StoredSession): void {
	sessionStorage.setItem(key(spaceId), JSON.stringify(session));
}

export function forgetSession(spaceId: string): void {
	sessionStorage.removeItem(key(spaceId));
}
